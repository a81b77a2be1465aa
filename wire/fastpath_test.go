package wire_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/wire"
)

// The typed benchmark event, whose payload strings and string result are
// copied together into one buffer, does not retain the input either, and
// decodes the same when its keys come in another order or with spaces
// (the general path).
func TestBenchEventDoesNotRetainInput(t *testing.T) {
	for _, enc := range []wire.Encoder{{Mode: wire.Upstream}, {Mode: wire.Compat242}} {
		buf := []byte(benchJSON)
		ev, err := wire.Unmarshal(buf)
		require.NoError(t, err)
		want := mustMarshal(t, enc, ev)
		for i := range buf {
			buf[i] = 'x'
		}
		assert.Equal(t, string(want), string(mustMarshal(t, enc, ev)))
		o := ev.(*BenchOrder)
		assert.Equal(t, "o-1", o.OrderID)
		assert.Equal(t, "Ada Lovelace", o.Customer)
		assert.Equal(t, 9.5, o.Total)
		assert.Equal(t, 3, o.Quantity)
		assert.True(t, o.Paid)
	}
	spaced := []byte(`{ "order_id" : "o-1" , "event_type":"BenchOrder" ,"total":9.5,"quantity":3,"customer":"Ada Lovelace","paid":true}`)
	ev, err := wire.Unmarshal(spaced)
	require.NoError(t, err)
	for i := range spaced {
		spaced[i] = 'x'
	}
	o := ev.(*BenchOrder)
	assert.Equal(t, "o-1", o.OrderID)
	assert.Equal(t, "Ada Lovelace", o.Customer)
}
