package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/perf"
)

func TestProfilesEveryKind(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"-scenario", perf.Scenario50kEvents, "-scale", "0.02", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, f := range profileFiles {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if st.Size() == 0 {
			t.Errorf("%s is empty", f)
		}
	}
	if !strings.Contains(out.String(), "profiles written to "+dir) {
		t.Errorf("output does not name the folder:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	var errb bytes.Buffer
	if _, err := parseFlags([]string{"-scenario", "nope"}, &errb); err == nil {
		t.Error("unknown scenario accepted")
	}
	o, err := parseFlags(nil, &errb)
	if err != nil || o.scenario != perf.Scenario50kEvents || !strings.HasPrefix(o.out, filepath.Join("pprof", "out", "50k-events-")) {
		t.Errorf("defaults: %+v %v", o, err)
	}
}
