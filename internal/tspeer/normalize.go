package tspeer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The bus defaults that stand in for a missing or null concurrency or
// completion field.
var busDefaults = map[string]string{
	"event_concurrency":         "bus-serial",
	"event_handler_concurrency": "serial",
	"event_handler_completion":  "all",
}

// NormalizeEvent decodes an event's JSON and takes out what a bridge
// legitimately changes on the way, so that what was sent and what was
// received compare equal field by field (RT-4):
//
//   - event_id (receivers mint a new one), event_path (each bus appends
//     its label) and event_results (the receiver's own handlers) go;
//   - every top-level string field ending in "_at" that parses as an
//     RFC 3339 time becomes that instant in UTC with 9 fraction digits;
//   - event_pending_bus_count becomes 0;
//   - a missing or null event_concurrency, event_handler_concurrency or
//     event_handler_completion becomes the bus default ("bus-serial",
//     "serial", "all");
//   - an in-flight event_status ("pending", "started") becomes "pending",
//     and its event_started_at and event_completed_at go;
//   - every other top-level null goes, so a null field equals a missing
//     one, as every reader of the wire format takes them.
//
// Numbers decode as float64, as JavaScript reads them.
func NormalizeEvent(raw []byte) (map[string]any, error) {
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("tspeer: event JSON: %w", err)
	}
	if ev == nil {
		return nil, fmt.Errorf("tspeer: event JSON is %s, not an object", bytes.TrimSpace(raw))
	}
	for _, k := range []string{"event_id", "event_path", "event_results"} {
		delete(ev, k)
	}
	for k, v := range ev {
		s, ok := v.(string)
		if !ok || !strings.HasSuffix(k, "_at") {
			continue
		}
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ev[k] = ts.UTC().Format("2006-01-02T15:04:05.000000000Z")
		}
	}
	ev["event_pending_bus_count"] = float64(0)
	for k, def := range busDefaults {
		if ev[k] == nil {
			ev[k] = def
		}
	}
	if st := ev["event_status"]; st == "pending" || st == "started" {
		ev["event_status"] = "pending"
		delete(ev, "event_started_at")
		delete(ev, "event_completed_at")
	}
	for k, v := range ev {
		if v == nil {
			delete(ev, k)
		}
	}
	return ev, nil
}

// DiffEvents compares two events' JSON after NormalizeEvent and returns a
// line per top-level field that differs (missing on one side or unequal),
// in key order; none when they are equal.
func DiffEvents(want, got []byte) ([]string, error) {
	w, err := NormalizeEvent(want)
	if err != nil {
		return nil, err
	}
	g, err := NormalizeEvent(got)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(w)+len(g))
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		wv, wok := w[k]
		gv, gok := g[k]
		switch {
		case !gok:
			diffs = append(diffs, fmt.Sprintf("%s: want %s, missing", k, compact(wv)))
		case !wok:
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %s", k, compact(gv)))
		case !reflect.DeepEqual(wv, gv):
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", k, compact(wv), compact(gv)))
		}
	}
	return diffs, nil
}

// RequireSameEvent fails t now unless want and got are the same event
// after NormalizeEvent, listing the fields that differ.
func RequireSameEvent(t testing.TB, want, got []byte) {
	t.Helper()
	diffs, err := DiffEvents(want, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("events differ after normalisation:\n  %s\nwant %s\ngot  %s", strings.Join(diffs, "\n  "), want, got)
	}
}

// compact is v as compact JSON.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
