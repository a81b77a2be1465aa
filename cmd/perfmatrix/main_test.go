package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/perf"
)

// TestHelperChild is the child process of the tests below: the test binary
// re-executed with PERFMATRIX_HELPER set runs perfmatrix's child mode.
func TestHelperChild(t *testing.T) {
	mode := os.Getenv("PERFMATRIX_HELPER")
	if mode == "" {
		t.Skip("helper process only")
	}
	switch mode {
	case "fail":
		// A scenario whose ok condition does not hold.
		if err := json.NewEncoder(os.Stdout).Encode(perf.Result{ID: "x", Units: 1, Unit: "event", Error: "checksum mismatch"}); err != nil {
			os.Exit(4)
		}
		os.Exit(0)
	case "crash":
		_, _ = os.Stderr.WriteString("boom\n") // the exit code is what the test checks
		os.Exit(3)
	}
	os.Exit(run([]string{"-" + childFlag, mode, "-scale", "0.01"}, os.Stdout, os.Stderr))
}

func helper(mode func(id string) string) func(ctx context.Context, id string, procs int) *exec.Cmd {
	return func(ctx context.Context, id string, procs int) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperChild$")
		cmd.Env = append(os.Environ(), "PERFMATRIX_HELPER="+mode(id))
		if procs > 0 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", procs))
		}
		return cmd
	}
}

func TestMatrixRunsEachScenarioInAChild(t *testing.T) {
	var log bytes.Buffer
	m := &matrix{runs: 2, scale: 0.01, log: &log, command: helper(func(id string) string { return id })}
	// Two scenarios are enough for the matrix's own logic (perf's tests
	// check every scenario), and these two are clean under -race.
	ids := []string{perf.Scenario50kEvents, perf.ScenarioOneOffHandlers}
	rep := m.measure(ids)
	if len(rep.Scenarios) != len(ids) {
		t.Fatalf("%d scenarios", len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if !s.OK {
			t.Errorf("%s failed: %s\n%s", s.ID, s.Failed, log.String())
		}
		if len(s.RunResults) != 2 {
			t.Errorf("%s: %d runs", s.ID, len(s.RunResults))
		}
		if s.MsPerUnit <= 0 || s.AllocsPerUnit <= 0 {
			t.Errorf("%s: figures missing: %+v", s.ID, s)
		}
	}
	var out bytes.Buffer
	if err := writeTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{
		"| Runtime | 1 bus x 50k events x 1 handler | 1 bus x 50k events x 50k one-off handlers |",
		"| Go (ringbus) | `",
		"ms/event`, `",
		"| Go (ringbus) allocations | `",
		"machine: ",
		" cores, ",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestMatrixReportsFailuresUntimed(t *testing.T) {
	var log bytes.Buffer
	modes := map[string]string{perf.Scenario50kEvents: "fail", perf.ScenarioWorstCase: "crash"}
	m := &matrix{runs: 1, scale: 0.01, log: &log, command: helper(func(id string) string { return modes[id] })}
	rep := m.measure([]string{perf.Scenario50kEvents, perf.ScenarioWorstCase})
	for _, s := range rep.Scenarios {
		if s.OK || s.MsPerUnit != 0 {
			t.Errorf("%s: want failed and untimed, got %+v", s.ID, s)
		}
	}
	if !strings.Contains(rep.Scenarios[0].Failed, "checksum mismatch") {
		t.Errorf("fail reason %q", rep.Scenarios[0].Failed)
	}
	if !strings.Contains(rep.Scenarios[1].Failed, "boom") {
		t.Errorf("crash reason %q", rep.Scenarios[1].Failed)
	}
	if rep.Row != "| Go (ringbus) | failed | failed |" {
		t.Errorf("row %q", rep.Row)
	}
}

func TestCellFormat(t *testing.T) {
	s := Summary{OK: true, Unit: "handler", MsPerUnit: 0.0854, KBPerUnit: 10.1974, HasRSS: true, AllocsPerUnit: 3.94}
	if got, want := cell(s), "`0.085ms/handler`, `10.197kb/handler`"; got != want {
		t.Errorf("cell = %s, want %s", got, want)
	}
	s.HasRSS = false
	if got, want := cell(s), "`0.085ms/handler`"; got != want {
		t.Errorf("cell without RSS = %s, want %s", got, want)
	}
	if got, want := allocCell(s), "`3.9allocs/handler`"; got != want {
		t.Errorf("allocCell = %s, want %s", got, want)
	}
	fast := Summary{OK: true, Unit: "event", MsPerUnit: 0.000472}
	if got, want := microRow([]Summary{fast, {}}, "Go (ringbus)"), "| Go (ringbus), same medians in µs | `0.472µs/event` | failed |"; got != want {
		t.Errorf("microRow = %s, want %s", got, want)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}

func TestFlags(t *testing.T) {
	var errb bytes.Buffer
	if _, err := parseFlags([]string{"-scenario", "nope"}, &errb); err == nil {
		t.Error("unknown scenario accepted")
	}
	o, err := parseFlags([]string{"-runs", "1", "-scenario", "50k-events, worst-case-forwarding-timeouts"}, &errb)
	if err != nil || o.runs != 1 || len(o.scenarios) != 2 {
		t.Errorf("parse: %+v %v", o, err)
	}
	errb.Reset()
	if _, err := parseFlags([]string{"-h"}, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if strings.Contains(errb.String(), childFlag) {
		t.Errorf("usage shows the hidden flag:\n%s", errb.String())
	}
}

// TestProcsAlternatesAndCompares runs a scenario and a probe at GOMAXPROCS 1
// and 2: each child must really run at its value (onceProbe checks what the
// probe child reports) and the table must compare the two.
func TestProcsAlternatesAndCompares(t *testing.T) {
	var log bytes.Buffer
	m := &matrix{runs: 1, scale: 0.01, log: &log, procs: []int{1, 2}, command: helper(func(id string) string { return id })}
	rep := m.measure([]string{perf.Scenario50kEvents})
	rep.Probes = m.measureProbes([]string{perf.ProbeRoundTripChannel, perf.ProbeThreadWake})
	if len(rep.Scenarios) != 2 || rep.Scenarios[0].Procs != 1 || rep.Scenarios[1].Procs != 2 {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	if len(rep.Probes) != 4 {
		t.Fatalf("probes %+v", rep.Probes)
	}
	for _, p := range rep.Probes {
		if p.ID == perf.ProbeThreadWake && p.Procs == 1 {
			if !p.Skipped || len(p.RunResults) != 0 {
				t.Errorf("a two-core probe ran at GOMAXPROCS=1: %+v", p)
			}
			continue
		}
		if !p.OK || p.Skipped || p.NsPerUnit <= 0 || p.RunResults[0].Procs != p.Procs {
			t.Errorf("probe %+v\n%s", p, log.String())
		}
	}
	var out bytes.Buffer
	if err := writeTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{
		"| Go (ringbus), GOMAXPROCS=1 | `",
		"| Go (ringbus), GOMAXPROCS=2 | `",
		"| time at GOMAXPROCS=2 / at GOMAXPROCS=1 | ",
		"| round-trip-channel (per round trip) | `",
		"| machine-thread-wake (per round trip) | - | `",
		"| Probe | ns, B, allocs per unit, GOMAXPROCS=1 | ns, B, allocs per unit, GOMAXPROCS=2 | time at 2 / at 1 |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestProcsAndProbeFlags(t *testing.T) {
	var errb bytes.Buffer
	o, err := parseFlags([]string{"-procs", "1, 2", "-probes", "all", "-scenario", "none"}, &errb)
	if err != nil || len(o.procs) != 2 || o.procs[1] != 2 || len(o.probes) != len(perf.ProbeIDs()) || len(o.scenarios) != 0 {
		t.Errorf("parse: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"-procs", "0"}, {"-procs", "1,1"}, {"-procs", "x"}, {"-probes", "nope"}} {
		if _, err := parseFlags(bad, &errb); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if got := ratio(3, 2, true); got != "1.50x" {
		t.Errorf("ratio = %s", got)
	}
	if got := ratio(3, 0, true); got != "n/a" {
		t.Errorf("ratio of a missing figure = %s", got)
	}
}
