package bridge_test

import (
	"context"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/wire"
)

// BenchmarkEmit is the bridge's own cost of sending: encode, queue, batch,
// hand to a transport that discards.
func BenchmarkEmit(b *testing.B) {
	f := &fake{discard: true}
	br, err := bridge.New(f)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	defer func() { _ = br.Close(ctx) }()
	e := event(b, "Bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := br.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDeliver is the bridge's own cost of receiving: decode, reset,
// emit on the inbound bus, run one handler.
func BenchmarkDeliver(b *testing.B) {
	f := &fake{}
	br, err := bridge.New(f)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	defer func() { _ = br.Close(ctx) }()
	done := make(chan struct{}, 1)
	n := 0
	if _, err := br.On("*", func(context.Context, *api.BaseEvent) (any, error) {
		n++
		if n == b.N {
			done <- struct{}{}
		}
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	if err := br.Start(ctx); err != nil {
		b.Fatal(err)
	}
	data, err := wire.Marshal(event(b, "Bench"))
	if err != nil {
		b.Fatal(err)
	}
	in := f.inbox()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in.Deliver(ctx, bridge.Message{Data: data})
	}
	<-done
}
