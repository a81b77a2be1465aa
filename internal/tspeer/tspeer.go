// Package tspeer gives tests the official abxbus TypeScript package as a
// live peer: it installs the pinned package into interop/ts with npm ci
// the first time a test asks, once even when several test binaries ask at
// the same time, and returns the node binary and that folder.
package tspeer

import (
	"context"
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
