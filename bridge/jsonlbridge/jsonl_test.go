package jsonlbridge_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/bridgetest"
	"github.com/ringbus/ringbus/bridge/jsonlbridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func newBridge(t *testing.T, path string, opts ...bridge.Option) *bridge.Bridge {
	t.Helper()
	b, err := jsonlbridge.New(path, jsonlbridge.WithPollInterval(2*time.Millisecond), jsonlbridge.WithBridgeOptions(opts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance_BR8_BR9_BR10(t *testing.T) {
	bridgetest.Run(t, bridgetest.Harness{
		Echo:    true,
		Ordered: true,
		NewPair: func(t *testing.T, opts ...bridge.Option) bridgetest.Pair {
			path := filepath.Join(t.TempDir(), "sub", "events.jsonl")
			return bridgetest.Pair{
				Sender:   newBridge(t, path, opts...),
				Receiver: newBridge(t, path, opts...),
				Raw: func(_ context.Context, data []byte) error {
					f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
					if err != nil {
						return err
					}
					_, err = f.Write(append(append([]byte(nil), data...), '\n'))
					return errorsJoin(err, f.Close())
				},
				NewReceiver: func(t *testing.T, opts ...bridge.Option) *bridge.Bridge { return newBridge(t, path, opts...) },
			}
		},
	})
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
