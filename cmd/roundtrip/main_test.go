package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vectors returns the vector files of testdata/vectors at the repository
// root (INDEX.json order), or of $RINGBUS_VECTORS.
func vectors(t *testing.T) [][]byte {
	t.Helper()
	dir := os.Getenv("RINGBUS_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "vectors")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "INDEX.json"))
	if err != nil {
		t.Fatalf("vectors folder %s is missing: %v", dir, err)
	}
	var idx struct {
		Vectors []struct {
			File string `json:"file"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, v := range idx.Vectors {
		if v.File == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, v.File))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.TrimSpace(data))
	}
	return out
}

// build compiles the command once per test binary.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roundtrip")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// RT-1 end to end: the built binary echoes every vector, equal key by key
// (RT-2), in the shape it came in; its output fed back is unchanged.
func TestEventsModeOnVectors(t *testing.T) {
	vecs := vectors(t)
	bin := build(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	out := filepath.Join(dir, "out.json")
	arr := append([]byte("["), bytes.Join(vecs, []byte(","))...)
	arr = append(arr, ']')
	if err := os.WriteFile(in, arr, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(bin, "events", in, out).CombinedOutput(); err != nil {
		t.Fatalf("roundtrip events: %v\n%s", err, msg)
	}
	got := readArray(t, out)
	if len(got) != len(vecs) {
		t.Fatalf("got %d events, want %d", len(got), len(vecs))
	}
	for i, v := range vecs {
		if d := rtDiff(decode(t, v), decode(t, got[i])); len(d) > 0 {
			t.Errorf("vector %d: %s\nin:  %s\nout: %s", i, strings.Join(d, "\n"), v, got[i])
		}
	}

	// A second pass through the binary changes nothing.
	out2 := filepath.Join(dir, "out2.json")
	if msg, err := exec.Command(bin, "events", out, out2).CombinedOutput(); err != nil {
		t.Fatalf("roundtrip events (second pass): %v\n%s", err, msg)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Errorf("second pass differs:\n%s\n%s", a, b)
	}
}

// 2.4.2-shaped input (no blocks flag, no results) comes back in that shape.
func TestEventsModeKeepsCompat242Shape(t *testing.T) {
	vecs := vectors(t)
	bin := build(t)
	dir := t.TempDir()
	var old []any
	for _, v := range vecs {
		m := decode(t, v).(map[string]any)
		delete(m, "event_blocks_parent_completion")
		delete(m, "event_results")
		old = append(old, m)
	}
	in := filepath.Join(dir, "in.json")
	out := filepath.Join(dir, "out.json")
	data, _ := json.Marshal(old)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(bin, "events", in, out).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	for i, e := range readArray(t, out) {
		m := decode(t, e).(map[string]any)
		if _, ok := m["event_blocks_parent_completion"]; ok {
			t.Errorf("event %d: blocks flag added to a 2.4.2 event", i)
		}
		if _, ok := m["event_results"]; ok {
			t.Errorf("event %d: event_results added to a 2.4.2 event", i)
		}
		if d := rtDiff(old[i], m); len(d) > 0 {
			t.Errorf("event %d: %s", i, strings.Join(d, "\n"))
		}
	}
}

func TestUsageAndErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"event_type":"X","event_status":7}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	notArray := filepath.Join(dir, "obj.json")
	if err := os.WriteFile(notArray, []byte(`{"event_type":"X"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "no mode"},
		{[]string{"events", "a"}, 2, "events needs"},
		{[]string{"bus", "a"}, 2, "bus needs"},
		{[]string{"jsonl-listener"}, 2, "jsonl-listener needs"},
		{[]string{"jsonl-listener", "a", "b"}, 2, "jsonl-listener needs"},
		{[]string{"jsonl-listener", filepath.Join(dir, "missing.json")}, 1, "no such file"},
		{[]string{"jsonl-listener", bad}, 1, "listener config"},
		{[]string{"jsonl-listener", notArray}, 1, "needs path, ready_path and output_path"},
		{[]string{"bus", filepath.Join(dir, "missing.json"), filepath.Join(dir, "o.json")}, 1, "no such file"},
		{[]string{"bus", bad, filepath.Join(dir, "o.json")}, 1, "bus snapshot must be a JSON object"},
		{[]string{"frobnicate"}, 2, "unknown mode"},
		{[]string{"events", filepath.Join(dir, "missing.json"), filepath.Join(dir, "o.json")}, 1, "no such file"},
		{[]string{"events", notArray, filepath.Join(dir, "o.json")}, 1, "JSON array"},
		{[]string{"events", bad, filepath.Join(dir, "o.json")}, 1, "event_status"},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("run(%q) = %d, %q; want %d and a message with %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
}

func readArray(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, data)
	}
	return arr
}

func decode(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, data)
	}
	return v
}

// optional are the keys a writer adds (as null) when the input omitted
// them: TypeScript leaves out undefined values, WIRE-5 writes every key.
var optional = map[string]bool{
	"event_timeout": true, "event_slow_timeout": true, "event_concurrency": true,
	"event_handler_timeout": true, "event_handler_slow_timeout": true,
	"event_handler_concurrency": true, "event_handler_completion": true,
	"event_result_type": true, "event_parent_id": true, "event_emitted_by_handler_id": true,
	"event_started_at": true, "event_completed_at": true,
	"handler_file_path": true, "handler_timeout": true, "handler_slow_timeout": true,
	"started_at": true, "completed_at": true, "result": true, "error": true,
}

// rtDiff applies RT-2's rules: every original key is present with an equal
// value (numbers compared by value), and only optional keys are added, as
// null.
func rtDiff(want, got any) []string {
	var diffs []string
	var walk func(path string, w, g any)
	walk = func(path string, w, g any) {
		switch wv := w.(type) {
		case map[string]any:
			gv, ok := g.(map[string]any)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: want an object, got %v", path, g))
				return
			}
			for k, x := range wv {
				if y, ok := gv[k]; ok {
					walk(path+"/"+k, x, y)
				} else {
					diffs = append(diffs, path+"/"+k+": missing")
				}
			}
			for k, y := range gv {
				if _, ok := wv[k]; !ok && (!optional[k] || y != nil) {
					diffs = append(diffs, fmt.Sprintf("%s/%s: added %v", path, k, y))
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
			a, _ := strconv.ParseFloat(string(wv), 64)
			b, _ := strconv.ParseFloat(string(gv), 64)
			if !ok || a != b {
				diffs = append(diffs, fmt.Sprintf("%s: want %s, got %v", path, wv, g))
			}
		default:
			if w != g {
				diffs = append(diffs, fmt.Sprintf("%s: want %#v, got %#v", path, w, g))
			}
		}
	}
	walk("", want, got)
	slices.Sort(diffs)
	return diffs
}
