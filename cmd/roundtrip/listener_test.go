package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/bridge"
	"github.com/ringbus/ringbus/bridge/jsonlbridge"
	"github.com/ringbus/ringbus/wire"
)

// inFlight are the keys a bridge changes on receipt (a new id, the
// receiving bus in the path) or that the handler running changes: RT-4
// drops or normalises them before comparing.
var inFlight = map[string]bool{
	"event_id": true, "event_path": true, "event_status": true, "event_results": true,
	"event_started_at": true, "event_completed_at": true, "event_pending_bus_count": true,
}

// RT-5: the other runtimes' suites start `roundtrip jsonl-listener`, wait
// for ready_path, append an event to the file and read output_path.
func TestJSONLListener_RT5(t *testing.T) {
	bin := build(t)
	for _, mode := range []wire.Mode{wire.Compat242, wire.Upstream} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			cfg := listenerConfig{
				Path:       filepath.Join(dir, "bus", "events.jsonl"),
				ReadyPath:  filepath.Join(dir, "ready"),
				OutputPath: filepath.Join(dir, "out", "event.json"),
			}
			if err := os.MkdirAll(filepath.Dir(cfg.OutputPath), 0o755); err != nil {
				t.Fatal(err)
			}
			cfgPath := filepath.Join(dir, "config.json")
			data, _ := json.Marshal(cfg)
			if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "jsonl-listener", cfgPath)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			kill := func() error {
				_ = cmd.Process.Kill()
				return <-exited
			}
			waitExit := func() error {
				select {
				case err := <-exited:
					return err
				case <-time.After(40 * time.Second):
					return fmt.Errorf("the listener did not exit (killed: %w)", kill())
				}
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if b, err := os.ReadFile(cfg.ReadyPath); err == nil {
					if string(b) != "ready" {
						t.Errorf("ready file holds %q", b)
					}
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("the listener exited before it was ready: %v\n%s", err, stderr.Bytes())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no ready file (killed: %v)\n%s", kill(), stderr.Bytes())
				}
				time.Sleep(5 * time.Millisecond)
			}

			// A line that is not an event first: skipped, reported.
			f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString("not an event\n")
			_ = f.Close()
			if err != nil {
				t.Fatal(err)
			}
			enc := wire.Encoder{Mode: mode}
			send, err := jsonlbridge.New(cfg.Path, jsonlbridge.WithBridgeOptions(bridge.WithEncoder(enc)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			defer func() { _ = send.Close(ctx) }()
			e, err := api.NewEvent("IPCPingEvent", map[string]any{
				"label": "go", "n": 3, "nested": map[string]any{"list": []any{1, "two", nil}}, "text": "héllo\n",
			})
			if err != nil {
				t.Fatal(err)
			}
			e.SetTimeout(2500 * time.Millisecond)
			want, err := enc.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := send.Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := send.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := waitExit(); err != nil {
				t.Fatalf("listener: %v\n%s", err, stderr.Bytes())
			}
			out, err := os.ReadFile(cfg.OutputPath)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stderr.String(), "invalid message") {
				t.Errorf("the bad line was not reported on stderr: %q", stderr.String())
			}
			sent, got := decode(t, want).(map[string]any), decode(t, out).(map[string]any)
			for k, v := range sent {
				if inFlight[k] {
					continue
				}
				if g, ok := got[k]; !ok || !reflect.DeepEqual(g, v) {
					t.Errorf("%s: sent %v, written %v", k, v, g)
				}
			}
			for k := range got {
				if _, ok := sent[k]; !ok && !inFlight[k] {
					t.Errorf("%s written, not sent: the event changed shape", k)
				}
			}
			if got["event_id"] == sent["event_id"] {
				t.Error("the received event kept the sender's id")
			}
			if p, _ := got["event_path"].([]any); len(p) != 1 || !strings.HasPrefix(p[0].(string), listenerName+"#") {
				t.Errorf("event_path %v, want [%s#....]", got["event_path"], listenerName)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg.OutputPath), ".roundtrip-*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
