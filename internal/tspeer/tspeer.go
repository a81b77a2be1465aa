// Package tspeer gives tests the official abxbus TypeScript package as a
// live peer: it installs the pinned package into interop/ts with npm ci
// the first time a test asks, once even when several test binaries ask at
// the same time, and returns the node binary and that folder.
package tspeer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Dir returns the folder holding the TypeScript peer's scripts and
// node_modules (interop/ts at the repository's root).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "interop", "ts")
}

// Node returns the node binary and the peer's folder, with the package
// installed there. Without node or npm it skips the test saying how to
// get them, or fails it when CI=true, where the peer is required.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if err := errors.Join(nerr, perr); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the TypeScript peer needs node and npm: %v", err)
		}
		t.Skipf("the TypeScript peer needs Node.js 20+ with npm (e.g. apt-get install nodejs npm): %v", err)
	}
	dir = Dir()
	if err := install(npm, dir); err != nil {
		t.Fatalf("installing the TypeScript peer in %s: %v", dir, err)
	}
	return node, dir
}

// install runs npm ci in dir unless the package is there, under an
// exclusive lock on a file beside it: npm ci empties node_modules first,
// so two test binaries installing at once would break each other.
func install(npm, dir string) error {
	marker := filepath.Join(dir, "node_modules", "abxbus", "package.json")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "ringbus-tspeer.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(marker); err == nil {
		return nil // installed while this one waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.Join(err, errors.New(string(out)))
	}
	return nil
}

// EventFile is one event of a manifest: a name and the file holding its
// JSON.
type EventFile struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// WriteEvents writes each event's JSON to a file of its own in a folder of
// t's, and returns the manifest entries naming them.
func WriteEvents(t testing.TB, events map[string][]byte) []EventFile {
	t.Helper()
	dir := t.TempDir()
	out := make([]EventFile, 0, len(events))
	for name, data := range events {
		file := filepath.Join(dir, name+".json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, EventFile{Name: name, File: file})
	}
	return out
}

// Run runs script (a file of the peer's folder) with node on manifest,
// written as JSON to a file whose path is the script's argument, and
// decodes what the script prints into report. It fails t when the script
// fails, with the first 64 KiB of its stderr.
func Run(t testing.TB, script string, manifest, report any) {
	t.Helper()
	node, dir := Node(t)
	raw, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(mpath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script), mpath)
	cmd.Dir = dir
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", script, err, stderr.b)
	}
	if err := json.Unmarshal(out, report); err != nil {
		t.Fatalf("node %s printed %s: %v", script, out, err)
	}
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
