// Command perfmatrix measures ringbus on the five scenarios of the abxbus
// runtime table and prints ringbus's row of that table.
//
// Each run of each scenario happens in a fresh process (perfmatrix re-executes
// itself with a hidden flag), like the reference harness's subprocesses, so
// the RSS figures of one scenario do not inherit another's heap. The row
// shows the median of the runs; a scenario that fails its ok condition in any
// run, or exceeds its time limit (120 s, 180 s for the worst case), is shown
// as failed instead of timed.
//
//	go run ./cmd/perfmatrix                  # 3 runs of every scenario
//	go run ./cmd/perfmatrix -runs 5 -json out.json
//	go run ./cmd/perfmatrix -scenario 50k-events,worst-case-forwarding-timeouts
//	go run ./cmd/perfmatrix -procs 1,2 -probes all   # one core against two, and the micro-benchmarks
//
// With -procs, every run of every scenario and probe happens once per
// GOMAXPROCS value, the values alternated run by run in the same sitting,
// and a table compares each value with the first. With -probes, perfmatrix
// also runs micro-benchmarks of the dispatch core (perf.Probes: an event in a
// batch, its buffered-channel floor, a round trip, a bus's whole life) with
// testing.Benchmark, each in a fresh process too.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ringbus/ringbus/perf"
)

// childFlag is the hidden flag of the re-executed child process.
const childFlag = "perfmatrix-child"

// killGrace is how long past the scenario's own limit the parent waits before
// killing a child that did not stop by itself.
const killGrace = 15 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	runs      int
	scenarios []string
	probes    []string
	procs     []int
	jsonPath  string
	scale     float64
	child     string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("perfmatrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 3, "runs of each scenario, each in a fresh process; the row shows the median")
	list := fs.String("scenario", "", "comma-separated scenario ids (default all, none for none): "+strings.Join(perf.IDs(), ", "))
	probeList := fs.String("probes", "", "comma-separated micro-benchmarks to run as well (all for every one): "+strings.Join(perf.ProbeIDs(), ", "))
	procsList := fs.String("procs", "", "comma-separated GOMAXPROCS values to run everything at, alternated (default: inherit)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the figures as JSON to this file (- for stdout)")
	fs.Float64Var(&o.scale, "scale", 1, "multiply the scenarios' counts (1 = the table's sizes)")
	fs.StringVar(&o.child, childFlag, "", "")
	fs.Usage = func() {
		logf(stderr, "usage: perfmatrix [flags]\n\nRuns the abxbus runtime-table scenarios on ringbus and prints its row.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == childFlag {
				return // internal
			}
			logf(stderr, "  -%s\n    \t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
		})
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.runs < 1 {
		return o, errors.New("-runs must be at least 1")
	}
	if o.scale <= 0 {
		return o, errors.New("-scale must be positive")
	}
	var err error
	if o.scenarios, err = pickIDs(*list, "scenario", perf.IDs(), true); err != nil {
		return o, err
	}
	if o.probes, err = pickIDs(*probeList, "probe", perf.ProbeIDs(), false); err != nil {
		return o, err
	}
	if o.procs, err = parseProcs(*procsList); err != nil {
		return o, err
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		logf(stderr, "perfmatrix: %v\n", err)
		return 2
	}
	if o.child != "" {
		return runChild(o, stdout, stderr)
	}
	exe, err := os.Executable()
	if err != nil {
		logf(stderr, "perfmatrix: cannot find my own executable: %v\n", err)
		return 1
	}
	m := &matrix{
		runs:  o.runs,
		scale: o.scale,
		log:   stderr,
		procs: o.procs,
		command: func(ctx context.Context, id string, procs int) *exec.Cmd {
			cmd := exec.CommandContext(ctx, exe, "-"+childFlag, id, "-scale", fmt.Sprint(o.scale))
			if procs > 0 {
				cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", procs))
			}
			return cmd
		},
	}
	rep := m.measure(o.scenarios)
	rep.Probes = m.measureProbes(o.probes)
	if err := writeTable(stdout, rep); err != nil {
		logf(stderr, "perfmatrix: %v\n", err)
		return 1
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, stdout, rep); err != nil {
			logf(stderr, "perfmatrix: %v\n", err)
			return 1
		}
	}
	for _, s := range rep.Scenarios {
		if !s.OK {
			return 1
		}
	}
	for _, p := range rep.Probes {
		if !p.OK {
			return 1
		}
	}
	return 0
}

// runChild runs one scenario in this process and writes its result as JSON
// on stdout.
func runChild(o options, stdout, stderr io.Writer) int {
	if id, ok := strings.CutPrefix(o.child, probePrefix); ok {
		return runProbeChild(id, stdout, stderr)
	}
	res, err := perf.Run(context.Background(), o.child, perf.Config{Scale: o.scale})
	if err != nil {
		logf(stderr, "perfmatrix child: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		logf(stderr, "perfmatrix child: %v\n", err)
		return 1
	}
	return 0
}

// matrix runs scenarios in child processes.
type matrix struct {
	runs  int
	scale float64
	log   io.Writer
	// procs are the GOMAXPROCS values to run at; none means one pass with
	// the inherited setting (shown as 0).
	procs []int
	// command returns the child process running scenario or probe id at
	// GOMAXPROCS procs (0: inherited).
	command func(ctx context.Context, id string, procs int) *exec.Cmd
}

// procsOrInherited returns the GOMAXPROCS values to run at: m.procs, or a
// single 0 for the inherited setting.
func (m *matrix) procsOrInherited() []int {
	if len(m.procs) == 0 {
		return []int{0}
	}
	return m.procs
}

// Machine describes where the figures were taken.
type Machine struct {
	Cores int    `json:"cores"`
	CPU   string `json:"cpu"`
	Go    string `json:"go"`
	OS    string `json:"os"`
	Arch  string `json:"arch"`
}

// Report is everything perfmatrix prints, and what -json writes.
type Report struct {
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	Runs    int     `json:"runs"`
	Scale   float64 `json:"scale"`
	// Procs are the GOMAXPROCS values run at (empty: inherited).
	Procs []int `json:"procs,omitempty"`
	// Scenarios holds one summary per scenario and GOMAXPROCS value.
	Scenarios []Summary `json:"scenarios"`
	// Probes holds one summary per probe and GOMAXPROCS value.
	Probes []ProbeSummary `json:"probes,omitempty"`
	// Row is the README table row; AllocRow the allocations row (of the
	// first GOMAXPROCS value).
	Row      string `json:"row"`
	AllocRow string `json:"alloc_row"`
}

// Summary is one scenario over its runs.
type Summary struct {
	ID     string `json:"id"`
	Column string `json:"column"`
	Unit   string `json:"unit"`
	// Procs is the GOMAXPROCS value of the runs (0: inherited).
	Procs int `json:"procs"`
	// OK is false when any run failed its ok condition, timed out or crashed.
	OK     bool   `json:"ok"`
	Failed string `json:"failed,omitempty"`
	// Medians over the runs (only when OK).
	MsPerUnit     float64 `json:"ms_per_unit"`
	KBPerUnit     float64 `json:"kb_per_unit"`
	AllocsPerUnit float64 `json:"allocs_per_unit"`
	HasRSS        bool    `json:"has_rss"`
	RunResults    []Run   `json:"runs"`
}

// Run is one child process.
type Run struct {
	Result *perf.Result `json:"result,omitempty"`
	Failed string       `json:"failed,omitempty"`
	WallMs float64      `json:"wall_ms"`
}

func (m *matrix) measure(ids []string) Report {
	rep := Report{
		Date:    time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Machine: machine(),
		Runs:    m.runs,
		Scale:   m.scale,
		Procs:   m.procs,
	}
	procs := m.procsOrInherited()
	for _, id := range ids {
		sc, _ := perf.Lookup(id)
		sums := make([]Summary, len(procs))
		var ms, kb, allocs = make([][]float64, len(procs)), make([][]float64, len(procs)), make([][]float64, len(procs))
		for j, p := range procs {
			sums[j] = Summary{ID: id, Column: sc.Column, Unit: sc.Unit, Procs: p, OK: true, HasRSS: true}
		}
		for i := range m.runs {
			for j, p := range procs { // alternated run by run: the machine's drift hits every value alike
				s := &sums[j]
				r := m.once(sc, p)
				if r.Failed == "" {
					logf(m.log, "%s%s run %d/%d: %.4fms/%s %.3fkb/%s %.1f allocs/%s (process %.0fms)\n",
						id, procsTag(p), i+1, m.runs, r.Result.MsPerUnit(), sc.Unit, r.Result.KBPerUnit(), sc.Unit,
						r.Result.AllocsPerUnit(), sc.Unit, r.WallMs)
					ms[j] = append(ms[j], r.Result.MsPerUnit())
					kb[j] = append(kb[j], r.Result.KBPerUnit())
					allocs[j] = append(allocs[j], r.Result.AllocsPerUnit())
					s.HasRSS = s.HasRSS && r.Result.HasRSS
				} else {
					logf(m.log, "%s%s run %d/%d: FAILED: %s\n", id, procsTag(p), i+1, m.runs, r.Failed)
					if s.OK {
						s.OK, s.Failed = false, r.Failed
					}
				}
				s.RunResults = append(s.RunResults, r)
			}
		}
		for j := range sums {
			if sums[j].OK {
				sums[j].MsPerUnit, sums[j].KBPerUnit, sums[j].AllocsPerUnit = median(ms[j]), median(kb[j]), median(allocs[j])
			}
		}
		rep.Scenarios = append(rep.Scenarios, sums...)
	}
	rep.Row, rep.AllocRow = rows(withProcs(rep.Scenarios, procs[0]), "Go (ringbus)")
	return rep
}

// once runs the scenario in a child process with the scenario's time limit.
func (m *matrix) once(sc perf.Scenario, procs int) Run {
	ctx, cancel := context.WithTimeout(context.Background(), sc.Limit+killGrace)
	defer cancel()
	cmd := m.command(ctx, sc.ID, procs)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := float64(time.Since(start)) / float64(time.Millisecond)
	if ctx.Err() != nil {
		return Run{Failed: fmt.Sprintf("timed out after %v", sc.Limit), WallMs: wall}
	}
	if err != nil {
		return Run{Failed: fmt.Sprintf("child process: %v: %s", err, lastLine(errb.String())), WallMs: wall}
	}
	var res perf.Result
	if err := json.Unmarshal(lastJSONLine(out.Bytes()), &res); err != nil {
		return Run{Failed: fmt.Sprintf("unreadable child output: %v", err), WallMs: wall}
	}
	r := Run{Result: &res, WallMs: wall}
	if !res.OK {
		why := res.Error
		if why == "" {
			why = fmt.Sprintf("counters %v", res.Detail)
		}
		r.Failed = "ok condition failed: " + why
	}
	return r
}

func lastJSONLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("{")) {
			return lines[i]
		}
	}
	return b
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cell formats a scenario like the README table:
// `0.000ms/event`, `0.000kb/event` (memory omitted when unavailable).
func cell(s Summary) string {
	if !s.OK {
		return "failed"
	}
	c := fmt.Sprintf("`%.3fms/%s`", s.MsPerUnit, s.Unit)
	if s.HasRSS {
		c += fmt.Sprintf(", `%.3fkb/%s`", s.KBPerUnit, s.Unit)
	}
	return c
}

func allocCell(s Summary) string {
	if !s.OK {
		return "failed"
	}
	return fmt.Sprintf("`%.1fallocs/%s`", s.AllocsPerUnit, s.Unit)
}

func rows(ss []Summary, label string) (row, allocRow string) {
	var a, b strings.Builder
	a.WriteString("| " + label + " |")
	b.WriteString("| " + label + " allocations |")
	for _, s := range ss {
		a.WriteString(" " + cell(s) + " |")
		b.WriteString(" " + allocCell(s) + " |")
	}
	return a.String(), b.String()
}

// microRow repeats the times in microseconds: at ringbus's speeds the
// table's three decimals of milliseconds round every figure to 0.000 or
// 0.001.
func microRow(ss []Summary, label string) string {
	var b strings.Builder
	b.WriteString("| " + label + ", same medians in µs |")
	for _, s := range ss {
		if !s.OK {
			b.WriteString(" failed |")
			continue
		}
		fmt.Fprintf(&b, " `%.3fµs/%s` |", s.MsPerUnit*1000, s.Unit)
	}
	return b.String()
}

// writeTable writes the report as the README's Markdown table to w.
func writeTable(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ringbus perfmatrix: %d run(s) per scenario, each in a fresh process; medians", rep.Runs)
	if rep.Scale != 1 {
		fmt.Fprintf(&b, "; scale %g (not the table's sizes)", rep.Scale)
	}
	fmt.Fprintln(&b)
	mc := rep.Machine
	fmt.Fprintf(&b, "machine: %d cores, %s, %s %s/%s; date: %s\n\n", mc.Cores, mc.CPU, mc.Go, mc.OS, mc.Arch, rep.Date)
	procs := rep.Procs
	if len(procs) == 0 {
		procs = []int{0}
	}
	if first := withProcs(rep.Scenarios, procs[0]); len(first) > 0 {
		fmt.Fprint(&b, "| Runtime |")
		for _, s := range first {
			fmt.Fprintf(&b, " %s |", s.Column)
		}
		fmt.Fprint(&b, "\n| --- |")
		for range first {
			fmt.Fprint(&b, " --- |")
		}
		fmt.Fprintln(&b)
		for _, p := range procs {
			label := "Go (ringbus)" + procsTag(p)
			ss := withProcs(rep.Scenarios, p)
			row, allocRow := rows(ss, label)
			fmt.Fprintln(&b, row)
			fmt.Fprintln(&b, allocRow)
			fmt.Fprintln(&b, microRow(ss, label))
		}
		if len(procs) > 1 {
			writeRatioRows(&b, rep.Scenarios, procs)
		}
		fmt.Fprintln(&b)
	}
	for _, s := range rep.Scenarios {
		if !s.OK {
			fmt.Fprintf(&b, "%s%s: FAILED: %s\n", s.ID, procsTag(s.Procs), s.Failed)
		}
	}
	writeProbeTable(&b, rep.Probes, procs)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJSON(path string, stdout io.Writer, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func machine() Machine {
	return Machine{
		Cores: runtime.NumCPU(),
		CPU:   cpuModel(),
		Go:    runtime.Version(),
		OS:    runtime.GOOS,
		Arch:  runtime.GOARCH,
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer func() { _ = f.Close() }() // read-only: a close error loses nothing
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// logf writes a diagnostic to w. A diagnostic that cannot be written has
// nowhere else to go, so its error is dropped here, in one place.
func logf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
