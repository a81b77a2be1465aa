package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/ringbus/ringbus/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// vectorsDir returns the folder of the cross-runtime vectors that the
// official TypeScript package wrote (testdata/vectors at the repository
// root, or $RINGBUS_VECTORS). They are part of the repository, so a missing
// folder fails the test.
func vectorsDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("RINGBUS_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "vectors")
	}
	if _, err := os.Stat(filepath.Join(dir, "INDEX.json")); err != nil {
		tb.Fatalf("vectors folder %s is missing: %v", dir, err)
	}
	return dir
}

type vector struct {
	File        string `json:"file"`
	Description string `json:"description"`
}

// loadVectors returns the vector files INDEX.json lists, with contents.
func loadVectors(tb testing.TB) map[string][]byte {
	tb.Helper()
	dir := vectorsDir(tb)
	raw, err := os.ReadFile(filepath.Join(dir, "INDEX.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var idx struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, v := range idx.Vectors {
		if v.File == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, v.File))
		if err != nil {
			tb.Fatal(err)
		}
		out[v.File] = data
	}
	if len(out) == 0 {
		tb.Fatal("INDEX.json lists no vector files")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func decodeJSON(tb testing.TB, data []byte) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("invalid JSON %s: %v", data, err)
	}
	return v
}

// optionalKeys are the keys a writer adds as null when the original omitted
// them (TypeScript omits undefined values; WIRE-5 writes them all).
var optionalKeys = map[string]bool{
	"event_timeout": true, "event_slow_timeout": true, "event_concurrency": true,
	"event_handler_timeout": true, "event_handler_slow_timeout": true,
	"event_handler_concurrency": true, "event_handler_completion": true,
	"event_result_type": true, "event_parent_id": true, "event_emitted_by_handler_id": true,
	"event_started_at": true, "event_completed_at": true,
	// result rows
	"handler_file_path": true, "handler_timeout": true, "handler_slow_timeout": true,
	"started_at": true, "completed_at": true, "result": true, "error": true,
}

// rtDiff compares an original event JSON with a runtime's output by RT-2's
// rules: every original key is present with an equal value (numbers by
// value), value types match, and the output adds only optional keys, as
// null. It returns the differences found.
func rtDiff(want, got any) []string {
	var diffs []string
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: want object, got %T", path, g))
				return
			}
			for _, k := range sortedKeys(wv) {
				gx, ok := gv[k]
				if !ok {
					diffs = append(diffs, fmt.Sprintf("%s/%s: missing", path, k))
					continue
				}
				walk(path+"/"+k, wv[k], gx)
			}
			for _, k := range sortedKeys(gv) {
				if _, ok := wv[k]; ok {
					continue
				}
				if !optionalKeys[k] || gv[k] != nil {
					diffs = append(diffs, fmt.Sprintf("%s/%s: unexpected key with value %v", path, k, gv[k]))
				}
			}
		case []any:
			gv, ok := g.([]any)
			if !ok || len(gv) != len(wv) {
				diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v", path, w, g))
				return
			}
			for i := range wv {
				walk(path+"/"+strconv.Itoa(i), wv[i], gv[i])
			}
		case json.Number:
			gv, ok := g.(json.Number)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: want number %s, got %T %v", path, wv, g, g))
				return
			}
			a, _ := strconv.ParseFloat(string(wv), 64)
			b, _ := strconv.ParseFloat(string(gv), 64)
			if a != b {
				diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", path, wv, gv))
			}
		default:
			if w != g {
				diffs = append(diffs, fmt.Sprintf("%s: want %#v, got %#v", path, w, g))
			}
		}
	}
	walk("", want, got)
	return diffs
}

// without returns a copy of the decoded object without the given keys.
func without(v any, keys ...string) map[string]any {
	m := map[string]any{}
	for k, x := range v.(map[string]any) {
		if !slices.Contains(keys, k) {
			m[k] = x
		}
	}
	return m
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
