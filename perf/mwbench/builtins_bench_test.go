package mwbench

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware"
	"github.com/ringbus/ringbus/perf"
)

// dropHandler is a slog.Handler that is enabled from its level up and
// drops every record: what remains is the cost of building the records.
type dropHandler struct{ level slog.Level }

func (h dropHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (dropHandler) Handle(context.Context, slog.Record) error      { return nil }
func (h dropHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h dropHandler) WithGroup(string) slog.Handler                { return h }

// BenchmarkEmitBatchLogger is EmitBatch's ringbus shape (batches of 512,
// each awaited, one handler returning nothing) with the built-in
// middlewares of package middleware, against the bare bus in the same run:
//
//	bare           no middleware
//	slog-text      Slog over a slog.TextHandler at Debug writing to
//	               io.Discard: all six records per event formatted
//	slog-text-done the same with the pending and started records below
//	               Debug: two records per event, the completions
//	slog-drop      Slog over a handler enabled at Debug that drops the
//	               records: building them, without formatting
//	slog-drop-done the same with the pending and started records below
//	               the handler's level
//	slog-discard   Slog over slog.DiscardHandler, the standard library's
//	               discarding handler (Enabled is false at every level)
//	slog-disabled  Slog over a TextHandler at Info: every transition is
//	               Debug, so each hook asks Enabled and stops
//	text-logger    Logger writing its line to io.Discard
//	auto-idle      AutoError and AutoReturn, with nothing to emit
func BenchmarkEmitBatchLogger(b *testing.B) {
	const name = "PerfBatchLogger"
	b.Run("bare", func(b *testing.B) { perf.BenchEmitBatchWith(b, name) })
	b.Run("slog-text", func(b *testing.B) {
		l := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(middleware.Slog(l)))
	})
	b.Run("slog-text-done", func(b *testing.B) {
		l := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
		m := middleware.Slog(l, middleware.WithPendingLevel(slog.LevelDebug-4), middleware.WithStartedLevel(slog.LevelDebug-4))
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(m))
	})
	b.Run("slog-drop", func(b *testing.B) {
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(middleware.Slog(slog.New(dropHandler{level: slog.LevelDebug}))))
	})
	b.Run("slog-drop-done", func(b *testing.B) {
		m := middleware.Slog(slog.New(dropHandler{level: slog.LevelDebug}),
			middleware.WithPendingLevel(slog.LevelDebug-4), middleware.WithStartedLevel(slog.LevelDebug-4))
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(m))
	})
	b.Run("slog-discard", func(b *testing.B) {
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(middleware.Slog(slog.New(slog.DiscardHandler))))
	})
	b.Run("slog-disabled", func(b *testing.B) {
		l := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(middleware.Slog(l)))
	})
	b.Run("text-logger", func(b *testing.B) {
		lg, err := middleware.Logger(middleware.WithOutput(io.Discard))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = lg.Close() }()
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(lg))
	})
	b.Run("auto-idle", func(b *testing.B) {
		perf.BenchEmitBatchWith(b, name, api.WithMiddlewares(middleware.AutoError(), middleware.AutoReturn()))
	})
}
