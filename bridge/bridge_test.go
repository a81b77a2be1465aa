package bridge_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/wire"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// fake is a transport whose behaviour each test sets.
type fake struct {
	opens   atomic.Int32
	openErr func(n int32) error
	send    func(ctx context.Context, msgs []bridge.Message) (int, error)
	noSend  bool
	discard bool // keep nothing (benchmarks)

	mu   sync.Mutex
	in   bridge.Inbox
	sent []bridge.Message
}

func (f *fake) Kind() string { return "FakeEventBridge" }

func (f *fake) CanSend() bool { return !f.noSend }

func (f *fake) Open(_ context.Context, in bridge.Inbox) error {
	n := f.opens.Add(1)
	if f.openErr != nil {
		if err := f.openErr(n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.in = in
	f.mu.Unlock()
	return nil
}

func (f *fake) Send(ctx context.Context, msgs []bridge.Message) (int, error) {
	if f.send != nil {
		n, err := f.send(ctx, msgs)
		f.keep(msgs[:n])
		return n, err
	}
	f.keep(msgs)
	return len(msgs), nil
}

func (f *fake) keep(msgs []bridge.Message) {
	if f.discard {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		f.sent = append(f.sent, bridge.Message{Data: append([]byte(nil), m.Data...), Header: m.Header})
	}
}

func (f *fake) Close(context.Context) error { return nil }

func (f *fake) inbox() bridge.Inbox { f.mu.Lock(); defer f.mu.Unlock(); return f.in }

type errList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errList) add(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }
func (l *errList) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func newBridge(t *testing.T, f *fake, opts ...bridge.Option) (*bridge.Bridge, *errList) {
	t.Helper()
	el := &errList{}
	b, err := bridge.New(f, append([]bridge.Option{bridge.WithErrorHandler(el.add), bridge.WithRetryBackoff(time.Millisecond, 4*time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b, el
}

func event(t testing.TB, typ string) *api.BaseEvent {
	t.Helper()
	e, err := api.NewEvent(typ, map[string]any{"n": 1})
	require.NoError(t, err)
	return e
}

func TestClosedBridgeRefuses_BR2(t *testing.T) {
	b, _ := newBridge(t, &fake{})
	ctx := context.Background()
	require.NoError(t, b.Close(ctx))
	require.NoError(t, b.Close(ctx), "Close is idempotent")
	assert.ErrorIs(t, b.Emit(ctx, event(t, "E")), bridge.ErrClosed)
	assert.ErrorIs(t, b.Start(ctx), bridge.ErrClosed)
	_, err := b.On("*", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil })
	assert.ErrorIs(t, err, bridge.ErrClosed)
	assert.ErrorIs(t, b.Flush(ctx), nil)
}

func TestListenOnlyTransportCannotSend_BR25(t *testing.T) {
	b, _ := newBridge(t, &fake{noSend: true})
	assert.ErrorIs(t, b.Emit(context.Background(), event(t, "E")), bridge.ErrCannotSend)
}

func TestStartIsIdempotentAndConcurrent_BR2(t *testing.T) {
	// A failed Open is tried again by the next Start; concurrent Starts
	// share one Open.
	f := &fake{openErr: func(n int32) error {
		if n == 1 {
			return errors.New("broker down")
		}
		return nil
	}}
	b, _ := newBridge(t, f)
	ctx := context.Background()
	require.Error(t, b.Start(ctx))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { assert.NoError(t, b.Start(ctx)) })
	}
	wg.Wait()
	assert.Equal(t, int32(2), f.opens.Load())
}

func TestOnStartsInBackground_BR2(t *testing.T) {
	f := &fake{}
	b, _ := newBridge(t, f)
	_, err := b.On("E", func(context.Context, *api.BaseEvent) (any, error) { return nil, nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.inbox() != nil }, 5*time.Second, time.Millisecond)
	require.NoError(t, b.Start(context.Background()))
	assert.Equal(t, int32(1), f.opens.Load(), "On then Start opens once")
}

func TestSyncEmitReturnsPermanentFailure(t *testing.T) {
	refused := errors.New("peer said 400")
	f := &fake{send: func(context.Context, []bridge.Message) (int, error) { return 0, bridge.Permanent(refused) }}
	b, el := newBridge(t, f, bridge.WithSyncEmit())
	err := b.Emit(context.Background(), event(t, "E"))
	require.ErrorIs(t, err, bridge.ErrSend)
	require.ErrorIs(t, err, refused)
	st := b.Stats()
	assert.Equal(t, uint64(0), st.Sent)
	assert.Equal(t, uint64(1), st.Lost)
	var lost *bridge.LostError
	require.Len(t, el.all(), 1)
	require.ErrorAs(t, el.all()[0], &lost)
	assert.Equal(t, 1, lost.Count)
}

func TestTransientSendFailureIsRetried(t *testing.T) {
	var calls atomic.Int32
	f := &fake{send: func(_ context.Context, msgs []bridge.Message) (int, error) {
		if calls.Add(1) <= 2 {
			return 0, errors.New("connection reset")
		}
		return len(msgs), nil
	}}
	b, el := newBridge(t, f, bridge.WithSyncEmit())
	require.NoError(t, b.Emit(context.Background(), event(t, "E")))
	st := b.Stats()
	assert.Equal(t, uint64(1), st.Sent)
	assert.Equal(t, uint64(2), st.SendErrors)
	for _, err := range el.all() {
		assert.ErrorIs(t, err, bridge.ErrSend)
	}
	assert.Len(t, f.sent, 1, "sent once")
}

func TestPartialSendResumesAfterTheSentPart(t *testing.T) {
	var calls atomic.Int32
	f := &fake{send: func(_ context.Context, msgs []bridge.Message) (int, error) {
		if calls.Add(1) == 1 && len(msgs) > 1 {
			return 1, errors.New("broken pipe after one")
		}
		return len(msgs), nil
	}}
	gate := make(chan struct{})
	b, _ := newBridge(t, f, bridge.WithBatchSize(8))
	ctx := context.Background()
	// Hold the first batch until all five are queued, so they go together.
	f.send = func(inner func(context.Context, []bridge.Message) (int, error)) func(context.Context, []bridge.Message) (int, error) {
		return func(ctx context.Context, msgs []bridge.Message) (int, error) { <-gate; return inner(ctx, msgs) }
	}(f.send)
	for range 5 {
		require.NoError(t, b.Emit(ctx, event(t, "E")))
	}
	close(gate)
	require.NoError(t, b.Flush(ctx))
	assert.Len(t, f.sent, 5, "each message sent exactly once")
	assert.Equal(t, uint64(5), b.Stats().Sent)
}

func TestCloseIsBoundedWhileTheBrokerIsDown(t *testing.T) {
	// A transport that cannot send (its broker is gone) blocks until its
	// ctx ends; Close returns within its own ctx and reports what it
	// could not send.
	f := &fake{send: func(ctx context.Context, _ []bridge.Message) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	b, el := newBridge(t, f)
	for range 10 {
		require.NoError(t, b.Emit(context.Background(), event(t, "E")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := b.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	st := b.Stats()
	assert.Equal(t, uint64(0), st.Sent)
	assert.Equal(t, uint64(10), st.Lost, "every queued event is accounted as lost")
	var lost int
	for _, e := range el.all() {
		var le *bridge.LostError
		if errors.As(e, &le) {
			lost += le.Count
		}
	}
	assert.Equal(t, 10, lost)
}

func TestReceivedEventIsResetAndEmitted_BR4_BR7(t *testing.T) {
	f := &fake{}
	b, _ := newBridge(t, f)
	got := make(chan *api.BaseEvent, 1)
	_, err := b.On("Ping", func(_ context.Context, e *api.BaseEvent) (any, error) { got <- e; return nil, nil })
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))

	src := event(t, "Ping")
	data, err := wire.Marshal(src)
	require.NoError(t, err)
	f.inbox().Deliver(context.Background(), bridge.Message{Data: data})
	e := <-got
	assert.NotEqual(t, src.ID(), e.ID(), "a received event gets a new id")
	assert.Equal(t, src.CreatedAt(), e.CreatedAt())
	assert.Equal(t, []string{b.Label()}, e.Path())
	v, _ := e.Field("n")
	assert.EqualValues(t, "1", v.(interface{ String() string }).String())
	assert.Equal(t, uint64(1), b.Stats().Delivered)
}

func TestBadInputIsDroppedAndReported(t *testing.T) {
	f := &fake{}
	b, el := newBridge(t, f, bridge.WithMaxMessageSize(1<<10))
	require.NoError(t, b.Start(context.Background()))
	in := f.inbox()
	ctx := context.Background()
	in.Deliver(ctx, bridge.Message{Data: []byte(`{"event_type":`)})
	in.Deliver(ctx, bridge.Message{Data: []byte(`{"event_type":"X","event_id":"nope"}`)})
	in.Deliver(ctx, bridge.Message{Data: []byte(`"just a string"`)})
	in.Deliver(ctx, bridge.Message{Data: make([]byte, 2<<10)})
	errs := el.all()
	require.Len(t, errs, 4)
	assert.ErrorIs(t, errs[0], bridge.ErrInvalidMessage)
	assert.ErrorIs(t, errs[0], wire.ErrMalformed)
	assert.ErrorIs(t, errs[1], wire.ErrBadUUID)
	assert.ErrorIs(t, errs[2], bridge.ErrInvalidMessage)
	assert.ErrorIs(t, errs[3], bridge.ErrMessageTooLarge)
	st := b.Stats()
	assert.Equal(t, uint64(4), st.Received)
	assert.Equal(t, uint64(4), st.Invalid)
	assert.Equal(t, uint64(0), st.Delivered)
}

type ctxKey struct{}

// headerProp puts a ctx value in a header and back, as a trace
// propagator does with a span context.
type headerProp struct{}

func (headerProp) Inject(ctx context.Context, h map[string]string) {
	if v, ok := ctx.Value(ctxKey{}).(string); ok {
		h["traceparent"] = v
	}
}

func (headerProp) Extract(ctx context.Context, h map[string]string) context.Context {
	return context.WithValue(ctx, ctxKey{}, h["traceparent"])
}

func TestTraceContextTravelsInHeaders(t *testing.T) {
	f := &fake{}
	b, _ := newBridge(t, f, bridge.WithPropagator(headerProp{}), bridge.WithSyncEmit())
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := context.WithValue(context.Background(), ctxKey{}, tp)
	require.NoError(t, b.Emit(ctx, event(t, "Traced")))
	require.Len(t, f.sent, 1)
	assert.Equal(t, tp, f.sent[0].Header["traceparent"])
	assert.NotContains(t, string(f.sent[0].Data), tp, "trace context stays out of the event JSON")

	got := make(chan string, 1)
	_, err := b.On("Traced", func(ctx context.Context, _ *api.BaseEvent) (any, error) {
		v, _ := ctx.Value(ctxKey{}).(string)
		got <- v
		return nil, nil
	})
	require.NoError(t, err)
	f.inbox().Deliver(context.Background(), f.sent[0])
	assert.Equal(t, tp, <-got)
}

func TestReceivingKeepsNoMemoryPerMessage(t *testing.T) {
	// The inbound bus keeps no history: live heap after GC does not grow
	// with the number of events received.
	f := &fake{}
	b, _ := newBridge(t, f)
	var handled atomic.Int64
	_, err := b.On("*", func(context.Context, *api.BaseEvent) (any, error) { handled.Add(1); return nil, nil })
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	data, err := wire.Marshal(event(t, "Mem"))
	require.NoError(t, err)
	round := func() uint64 {
		for range 20000 {
			f.inbox().Deliver(context.Background(), bridge.Message{Data: data})
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	first := round()
	require.Eventually(t, func() bool { return handled.Load() == 20000 }, 10*time.Second, time.Millisecond)
	round()
	require.Eventually(t, func() bool { return handled.Load() == 40000 }, 10*time.Second, time.Millisecond)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	assert.Less(t, int64(ms.HeapAlloc)-int64(first), int64(2<<20), "heap grew by %d bytes over 20000 more events", int64(ms.HeapAlloc)-int64(first))
}

func TestCloseDuringStart_BR2(t *testing.T) {
	// Close while a Start is connecting: one of the two shuts the bridge
	// down, once, whether Close waits for the Start or gives up first.
	for _, gaveUp := range []bool{false, true} {
		release := make(chan struct{})
		entered := make(chan struct{})
		f := &fake{openErr: func(int32) error { close(entered); <-release; return nil }}
		b, err := bridge.New(f, bridge.WithErrorHandler(func(error) {}))
		require.NoError(t, err)
		started := make(chan error, 1)
		go func() { started <- b.Start(context.Background()) }()
		<-entered
		closed := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { closed <- b.Close(ctx) }()
		if gaveUp {
			cancel()
			assert.ErrorIs(t, <-closed, context.Canceled)
			close(release)
		} else {
			// On fails at once once Close has begun (Emit would wait for the Start).
			nop := func(context.Context, *api.BaseEvent) (any, error) { return nil, nil }
			require.Eventually(t, func() bool { _, err := b.On("E", nop); return errors.Is(err, bridge.ErrClosed) }, 5*time.Second, time.Millisecond)
			close(release)
			assert.NoError(t, <-closed)
		}
		assert.ErrorIs(t, <-started, bridge.ErrClosed)
		cancel()
	}
}

// A received message the inbound bus no longer takes counts as
// undelivered, apart from Lost, which accounts only for the events Emit
// accepted: a bridge that sends and listens on one channel keeps its two
// directions apart (Sent + Lost = accepted).
func TestUndeliveredIsNotLost(t *testing.T) {
	f := &fake{}
	b, el := newBridge(t, f)
	ctx := context.Background()
	require.NoError(t, b.Emit(ctx, event(t, "E")))
	require.NoError(t, b.Close(ctx))
	f.mu.Lock()
	in, sent := f.in, f.sent
	f.mu.Unlock()
	require.NotNil(t, in)
	require.Len(t, sent, 1)
	acc, ok := in.(bridge.Acceptor)
	require.True(t, ok)
	err := acc.Accept(ctx, sent[0])
	require.Error(t, err, "a closed bridge's inbound bus takes nothing")
	st := b.Stats()
	assert.Equal(t, uint64(1), st.Sent)
	assert.Equal(t, uint64(0), st.Lost, "Lost counts the accepted events only")
	assert.Equal(t, uint64(1), st.Undelivered)
	var lost *bridge.LostError
	require.NotEmpty(t, el.all())
	require.ErrorAs(t, el.all()[len(el.all())-1], &lost, "the error handler still hears of it")
}
