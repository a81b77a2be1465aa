package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/jsonlbridge"
	"github.com/ringbus/ringbus/wire"
)

// The listener's settings, as the upstream Go worker has them: it polls
// the file every 50ms and gives up after 30s without an event.
const (
	listenerPoll    = 50 * time.Millisecond
	listenerTimeout = 30 * time.Second
	listenerName    = "JSONLWorker"
)

// listenerConfig is the config file of jsonl-listener.
type listenerConfig struct {
	Path       string `json:"path"`
	ReadyPath  string `json:"ready_path"`
	OutputPath string `json:"output_path"`
}

// jsonlListener implements "jsonl-listener": listen on the JSONL file
// of the config, write ready_path once listening, write the first event
// received to output_path (through a rename, so a reader never sees half
// of it) in the shape it arrived in, and return.
func jsonlListener(cfgPath string, stderr io.Writer) error {
	// RT-5: the upstream Go worker's contract.
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg listenerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: listener config: %w", cfgPath, err)
	}
	if cfg.Path == "" || cfg.ReadyPath == "" || cfg.OutputPath == "" {
		return fmt.Errorf("%s: listener config needs path, ready_path and output_path", cfgPath)
	}
	jt, err := jsonlbridge.NewTransport(cfg.Path, jsonlbridge.WithPollInterval(listenerPoll))
	if err != nil {
		return err
	}
	st := &shapeTransport{Transport: jt, shapes: make(chan wire.Encoder, 1)}
	b, err := bridge.New(st,
		bridge.WithName(listenerName),
		bridge.WithLogger(slog.New(slog.DiscardHandler)),
		bridge.WithDecoder(wire.Decoder{AllowUnknownEventFields: true, MaxDepth: bridge.DefaultMaxDepth}),
		// A bad line is skipped; say so where the test runner looks.
		bridge.WithErrorHandler(func(err error) { logf(stderr, "roundtrip: jsonl-listener: %v\n", err) }))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), listenerTimeout)
	defer cancel()
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = b.Close(cctx)
	}()
	type received struct {
		data []byte
		err  error
	}
	got := make(chan received, 1)
	var first sync.Once
	if _, err := b.On("*", func(_ context.Context, e *api.BaseEvent) (any, error) {
		first.Do(func() {
			// The shape of the message this event came from: the inbox
			// sends it once the event is on the inbound bus.
			enc := <-st.shapes
			data, err := enc.Marshal(e)
			got <- received{data, err}
		})
		return nil, nil
	}); err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	if err := writeAtomic(cfg.ReadyPath, []byte("ready")); err != nil {
		return err
	}
	select {
	case r := <-got:
		if r.err != nil {
			return r.err
		}
		return writeAtomic(cfg.OutputPath, r.data)
	case <-ctx.Done():
		return fmt.Errorf("no event on %s within %v", cfg.Path, listenerTimeout)
	}
}

// shapeTransport is a transport that tells, for the first message the
// bridge accepts, the shape (wire.ShapeOf) it came in, so that the event
// is written back in the same version of the JSON.
type shapeTransport struct {
	bridge.Transport
	shapes chan wire.Encoder
}

// Open opens the transport with an inbox that notes the shapes.
func (s *shapeTransport) Open(ctx context.Context, in bridge.Inbox) error {
	acc, ok := in.(bridge.Acceptor)
	if !ok {
		return errors.New("the bridge's inbox does not say what it accepts")
	}
	return s.Transport.Open(ctx, shapeInbox{acc, s.shapes})
}

type shapeInbox struct {
	bridge.Acceptor
	shapes chan wire.Encoder
}

func (i shapeInbox) Deliver(ctx context.Context, m bridge.Message) {
	enc := wire.ShapeOf(m.Data)
	if i.Accept(ctx, m) == nil {
		select {
		case i.shapes <- enc: // the first accepted message's; later ones are not asked for
		default:
		}
	}
}
