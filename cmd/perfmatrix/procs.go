package main

// GOMAXPROCS comparisons (-procs) and the micro-benchmark probes (-probes).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbus/ringbus/perf"
)

// probePrefix marks a child that runs a probe rather than a scenario.
const probePrefix = "probe:"

// probeLimit bounds one probe's child process (testing.Benchmark runs for
// about a second, plus its calibration runs).
const probeLimit = 60 * time.Second

// pickIDs parses a comma-separated list of ids out of known. An empty list
// means all of them when emptyIsAll, none otherwise; "all" and "none" mean
// what they say.
func pickIDs(list, what string, known []string, emptyIsAll bool) ([]string, error) {
	switch strings.TrimSpace(list) {
	case "":
		if emptyIsAll {
			return known, nil
		}
		return nil, nil
	case "all":
		return known, nil
	case "none":
		return nil, nil
	}
	var ids []string
	for _, id := range strings.Split(list, ",") {
		id = strings.TrimSpace(id)
		found := false
		for _, k := range known {
			found = found || k == id
		}
		if !found {
			return nil, fmt.Errorf("unknown %s %q (want one of %s)", what, id, strings.Join(known, ", "))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseProcs parses -procs: distinct positive GOMAXPROCS values.
func parseProcs(list string) ([]int, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var procs []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-procs: %q is not a positive number", f)
		}
		for _, p := range procs {
			if p == n {
				return nil, fmt.Errorf("-procs: %d given twice", n)
			}
		}
		procs = append(procs, n)
	}
	return procs, nil
}

// procsTag labels figures taken at GOMAXPROCS p (nothing for inherited).
func procsTag(p int) string {
	if p == 0 {
		return ""
	}
	return fmt.Sprintf(", GOMAXPROCS=%d", p)
}

// withProcs returns the summaries taken at GOMAXPROCS p, in order.
func withProcs(ss []Summary, p int) []Summary {
	var out []Summary
	for _, s := range ss {
		if s.Procs == p {
			out = append(out, s)
		}
	}
	return out
}

// ratio formats a/b as "1.23x", or "n/a" when either is missing.
func ratio(a, b float64, ok bool) string {
	if !ok || a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// writeRatioRows adds, for every GOMAXPROCS value after the first, a row of
// each scenario's median time divided by its median at the first value:
// below 1x the value is faster.
func writeRatioRows(b *strings.Builder, ss []Summary, procs []int) {
	base := withProcs(ss, procs[0])
	for _, p := range procs[1:] {
		fmt.Fprintf(b, "| time at GOMAXPROCS=%d / at GOMAXPROCS=%d |", p, procs[0])
		for i, s := range withProcs(ss, p) {
			fmt.Fprintf(b, " %s |", ratio(s.MsPerUnit, base[i].MsPerUnit, s.OK && base[i].OK))
		}
		fmt.Fprintln(b)
	}
}

// ProbeSummary is one probe at one GOMAXPROCS value over its runs.
type ProbeSummary struct {
	ID    string `json:"id"`
	Unit  string `json:"unit"`
	Procs int    `json:"procs"`
	// OK is false when any run failed; Failed says why.
	OK     bool   `json:"ok"`
	Failed string `json:"failed,omitempty"`
	// Skipped is true when the probe needs more Ps than Procs (it was not
	// run).
	Skipped bool `json:"skipped,omitempty"`
	// Medians over the runs (only when OK).
	NsPerUnit     float64       `json:"ns_per_unit"`
	BytesPerUnit  float64       `json:"bytes_per_unit"`
	AllocsPerUnit float64       `json:"allocs_per_unit"`
	RunResults    []ProbeResult `json:"runs"`
}

// ProbeResult is what one probe child reports.
type ProbeResult struct {
	ID string `json:"id"`
	// Procs is the child's GOMAXPROCS.
	Procs         int     `json:"procs"`
	N             int     `json:"n"`
	NsPerUnit     float64 `json:"ns_per_unit"`
	BytesPerUnit  float64 `json:"bytes_per_unit"`
	AllocsPerUnit float64 `json:"allocs_per_unit"`
	Failed        string  `json:"failed,omitempty"`
}

// runProbeChild runs probe id with testing.Benchmark in this process and
// writes a ProbeResult as JSON on stdout.
func runProbeChild(id string, stdout, stderr io.Writer) int {
	p, ok := perf.LookupProbe(id)
	if !ok {
		logf(stderr, "perfmatrix child: unknown probe %q\n", id)
		return 2
	}
	br := testing.Benchmark(p.Bench)
	res := ProbeResult{ID: id, Procs: runtime.GOMAXPROCS(0), N: br.N}
	if br.N == 0 {
		res.Failed = "the benchmark failed (testing.Benchmark ran no iteration)"
	} else {
		res.NsPerUnit = float64(br.T.Nanoseconds()) / float64(br.N)
		res.BytesPerUnit = float64(br.MemBytes) / float64(br.N)
		res.AllocsPerUnit = float64(br.MemAllocs) / float64(br.N)
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		logf(stderr, "perfmatrix child: %v\n", err)
		return 1
	}
	return 0
}

// measureProbes runs every probe runs times at every GOMAXPROCS value,
// the values alternated run by run.
func (m *matrix) measureProbes(ids []string) []ProbeSummary {
	procs := m.procsOrInherited()
	var out []ProbeSummary
	for _, id := range ids {
		p, _ := perf.LookupProbe(id)
		sums := make([]ProbeSummary, len(procs))
		ns, by, al := make([][]float64, len(procs)), make([][]float64, len(procs)), make([][]float64, len(procs))
		for j, pr := range procs {
			sums[j] = ProbeSummary{ID: id, Unit: p.Unit, Procs: pr, OK: true}
			if at := pr; at < p.MinProcs && (at > 0 || runtime.GOMAXPROCS(0) < p.MinProcs) {
				sums[j].Skipped = true
			}
		}
		for i := range m.runs {
			for j, pr := range procs {
				if sums[j].Skipped {
					continue
				}
				r := m.onceProbe(id, pr)
				s := &sums[j]
				s.RunResults = append(s.RunResults, r)
				if r.Failed != "" {
					logf(m.log, "probe %s%s run %d/%d: FAILED: %s\n", id, procsTag(pr), i+1, m.runs, r.Failed)
					if s.OK {
						s.OK, s.Failed = false, r.Failed
					}
					continue
				}
				logf(m.log, "probe %s%s run %d/%d: %.1fns/%s %.0fB/%s %.2f allocs/%s (%d iterations)\n",
					id, procsTag(pr), i+1, m.runs, r.NsPerUnit, p.Unit, r.BytesPerUnit, p.Unit, r.AllocsPerUnit, p.Unit, r.N)
				ns[j], by[j], al[j] = append(ns[j], r.NsPerUnit), append(by[j], r.BytesPerUnit), append(al[j], r.AllocsPerUnit)
			}
		}
		for j := range sums {
			if sums[j].OK {
				sums[j].NsPerUnit, sums[j].BytesPerUnit, sums[j].AllocsPerUnit = median(ns[j]), median(by[j]), median(al[j])
			}
		}
		out = append(out, sums...)
	}
	return out
}

// onceProbe runs probe id in a child process at GOMAXPROCS procs.
func (m *matrix) onceProbe(id string, procs int) ProbeResult {
	ctx, cancel := context.WithTimeout(context.Background(), probeLimit)
	defer cancel()
	cmd := m.command(ctx, probePrefix+id, procs)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		return ProbeResult{ID: id, Failed: fmt.Sprintf("timed out after %v", probeLimit)}
	}
	if err != nil {
		return ProbeResult{ID: id, Failed: fmt.Sprintf("child process: %v: %s", err, lastLine(errb.String()))}
	}
	var r ProbeResult
	if err := json.Unmarshal(lastJSONLine(out.Bytes()), &r); err != nil {
		return ProbeResult{ID: id, Failed: fmt.Sprintf("unreadable child output: %v", err)}
	}
	if procs > 0 && r.Failed == "" && r.Procs != procs {
		r.Failed = fmt.Sprintf("child ran at GOMAXPROCS=%d, want %d", r.Procs, procs)
	}
	return r
}

// errNoProbe is what probeAt reports for a probe that was not run or failed.
var errNoProbe = errors.New("not measured")

// probeAt returns the summary of probe id at GOMAXPROCS p.
func probeAt(ps []ProbeSummary, id string, p int) (ProbeSummary, error) {
	for _, s := range ps {
		if s.ID == id && s.Procs == p {
			if !s.OK || s.Skipped {
				return s, errNoProbe
			}
			return s, nil
		}
	}
	return ProbeSummary{}, errNoProbe
}

// writeProbeTable writes the probes' medians, one column per GOMAXPROCS
// value, the time ratio of every later value to the first, and how many
// times its buffered-channel floor the emit-batch probe costs.
func writeProbeTable(b *strings.Builder, ps []ProbeSummary, procs []int) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprint(b, "| Probe |")
	for _, p := range procs {
		fmt.Fprintf(b, " ns, B, allocs per unit%s |", procsTag(p))
	}
	for _, p := range procs[1:] {
		fmt.Fprintf(b, " time at %d / at %d |", p, procs[0])
	}
	fmt.Fprint(b, "\n| --- |")
	for range len(procs)*2 - 1 {
		fmt.Fprint(b, " --- |")
	}
	fmt.Fprintln(b)
	for _, id := range perf.ProbeIDs() {
		first, err := probeAt(ps, id, procs[0])
		if err != nil && first.ID == "" {
			continue // not run
		}
		if first.Skipped { // a probe of two cores: compare nothing with it
			first.OK = false
		}
		fmt.Fprintf(b, "| %s (per %s) |", id, first.Unit)
		for _, p := range procs {
			s, err := probeAt(ps, id, p)
			if s.Skipped {
				fmt.Fprint(b, " - |")
				continue
			}
			if err != nil {
				fmt.Fprint(b, " failed |")
				continue
			}
			fmt.Fprintf(b, " `%.1fns`, `%.0fB`, `%.2f` |", s.NsPerUnit, s.BytesPerUnit, s.AllocsPerUnit)
		}
		for _, p := range procs[1:] {
			s, err := probeAt(ps, id, p)
			fmt.Fprintf(b, " %s |", ratio(s.NsPerUnit, first.NsPerUnit, err == nil && first.OK))
		}
		fmt.Fprintln(b)
	}
	fmt.Fprintln(b)
	for _, p := range procs {
		ring, err1 := probeAt(ps, perf.ProbeEmitBatch, p)
		ch, err2 := probeAt(ps, perf.ProbeEmitBatchChannel, p)
		if err1 == nil && err2 == nil {
			fmt.Fprintf(b, "emit-batch / emit-batch-channel%s: %s\n", procsTag(p), ratio(ring.NsPerUnit, ch.NsPerUnit, true))
		}
	}
	for _, s := range ps {
		if !s.OK {
			fmt.Fprintf(b, "probe %s%s: FAILED: %s\n", s.ID, procsTag(s.Procs), s.Failed)
		}
	}
}
