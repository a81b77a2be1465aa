package services_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/internal/services"
)

// Every run gets its own name, made of safe characters only.
func TestUniqueNames(t *testing.T) {
	a, b := services.Unique(t, "ringbus"), services.Unique(t, "ringbus")
	assert.NotEqual(t, a, b)
	assert.Regexp(t, regexp.MustCompile(`^ringbus_TestUniqueNames_[0-9a-f]{8}$`), a)
}

// The three services of the machines answer (under CI a missing one fails).
func TestRequireServices(t *testing.T) {
	for _, s := range []services.Service{services.Postgres, services.Redis, services.NATS} {
		t.Run(s.Name, func(t *testing.T) {
			require.Equal(t, s.Addr, services.Require(t, s))
		})
	}
}
