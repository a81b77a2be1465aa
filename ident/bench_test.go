package ident_test

import (
	"testing"
	"time"

	"github.com/ringbus/ringbus/ident"
)

var (
	sinkTime  ident.Time
	sinkUUID  ident.UUID
	sinkStd   time.Time
	sinkBytes []byte
)

func BenchmarkNow(b *testing.B) {
	b.Run("ident.Now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkTime = ident.Now()
		}
	})
	b.Run("time.Now", func(b *testing.B) { // baseline
		b.ReportAllocs()
		for b.Loop() {
			sinkStd = time.Now()
		}
	})
	b.Run("ident.Now/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var t ident.Time
			for pb.Next() {
				t = ident.Now()
			}
			_ = t
		})
	})
}

func BenchmarkNewV7(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkUUID = ident.NewV7()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var u ident.UUID
			for pb.Next() {
				u = ident.NewV7()
			}
			_ = u
		})
	})
}

func BenchmarkTimeAppendText(b *testing.B) {
	t := ident.Now()
	buf := make([]byte, 0, 64)
	b.Run("ident", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = t.AppendText(buf[:0])
		}
	})
	std := t.Std()
	b.Run("time.AppendFormat", func(b *testing.B) { // baseline
		b.ReportAllocs()
		for b.Loop() {
			buf = std.AppendFormat(buf[:0], "2006-01-02T15:04:05.000000000Z")
		}
	})
	sinkBytes = buf
}

func BenchmarkUUIDAppendText(b *testing.B) {
	u := ident.NewV7()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = u.AppendText(buf[:0])
	}
	sinkBytes = buf
}

func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkTime, _ = ident.ParseTime("2026-11-26T18:28:54.811416073Z")
	}
}

func BenchmarkParseUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkUUID, _ = ident.ParseUUID("01a2191e-219a-76c3-8cf0-6eca49032cc2")
	}
}
