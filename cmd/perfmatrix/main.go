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
	jsonPath  string
	scale     float64
	child     string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("perfmatrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 3, "runs of each scenario, each in a fresh process; the row shows the median")
	list := fs.String("scenario", "", "comma-separated scenario ids (default all): "+strings.Join(perf.IDs(), ", "))
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
	if *list == "" {
		o.scenarios = perf.IDs()
	} else {
		for _, id := range strings.Split(*list, ",") {
			id = strings.TrimSpace(id)
			if _, ok := perf.Lookup(id); !ok {
				return o, fmt.Errorf("unknown scenario %q (want one of %s)", id, strings.Join(perf.IDs(), ", "))
			}
			o.scenarios = append(o.scenarios, id)
		}
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
		command: func(ctx context.Context, id string) *exec.Cmd {
			return exec.CommandContext(ctx, exe, "-"+childFlag, id, "-scale", fmt.Sprint(o.scale))
		},
	}
	rep := m.measure(o.scenarios)
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
	return 0
}

// runChild runs one scenario in this process and writes its result as JSON
// on stdout.
func runChild(o options, stdout, stderr io.Writer) int {
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
	runs    int
	scale   float64
	log     io.Writer
	command func(ctx context.Context, id string) *exec.Cmd
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
	Date      string    `json:"date"`
	Machine   Machine   `json:"machine"`
	Runs      int       `json:"runs"`
	Scale     float64   `json:"scale"`
	Scenarios []Summary `json:"scenarios"`
	// Row is the README table row; AllocRow the allocations row.
	Row      string `json:"row"`
	AllocRow string `json:"alloc_row"`
}

// Summary is one scenario over its runs.
type Summary struct {
	ID     string `json:"id"`
	Column string `json:"column"`
	Unit   string `json:"unit"`
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
	}
	for _, id := range ids {
		sc, _ := perf.Lookup(id)
		s := Summary{ID: id, Column: sc.Column, Unit: sc.Unit, OK: true, HasRSS: true}
		var ms, kb, allocs []float64
		for i := range m.runs {
			r := m.once(sc)
			if r.Failed == "" {
				logf(m.log, "%s run %d/%d: %.4fms/%s %.3fkb/%s %.1f allocs/%s (process %.0fms)\n",
					id, i+1, m.runs, r.Result.MsPerUnit(), sc.Unit, r.Result.KBPerUnit(), sc.Unit,
					r.Result.AllocsPerUnit(), sc.Unit, r.WallMs)
				ms = append(ms, r.Result.MsPerUnit())
				kb = append(kb, r.Result.KBPerUnit())
				allocs = append(allocs, r.Result.AllocsPerUnit())
				s.HasRSS = s.HasRSS && r.Result.HasRSS
			} else {
				logf(m.log, "%s run %d/%d: FAILED: %s\n", id, i+1, m.runs, r.Failed)
				if s.OK {
					s.OK, s.Failed = false, r.Failed
				}
			}
			s.RunResults = append(s.RunResults, r)
		}
		if s.OK {
			s.MsPerUnit, s.KBPerUnit, s.AllocsPerUnit = median(ms), median(kb), median(allocs)
		}
		rep.Scenarios = append(rep.Scenarios, s)
	}
	rep.Row, rep.AllocRow = rows(rep.Scenarios)
	return rep
}

// once runs the scenario in a child process with the scenario's time limit.
func (m *matrix) once(sc perf.Scenario) Run {
	ctx, cancel := context.WithTimeout(context.Background(), sc.Limit+killGrace)
	defer cancel()
	cmd := m.command(ctx, sc.ID)
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

func rows(ss []Summary) (row, allocRow string) {
	var a, b strings.Builder
	a.WriteString("| Go (ringbus) |")
	b.WriteString("| Go (ringbus) allocations |")
	for _, s := range ss {
		a.WriteString(" " + cell(s) + " |")
		b.WriteString(" " + allocCell(s) + " |")
	}
	return a.String(), b.String()
}

// microRow repeats the times in microseconds: at ringbus's speeds the
// table's three decimals of milliseconds round every figure to 0.000 or
// 0.001.
func microRow(ss []Summary) string {
	var b strings.Builder
	b.WriteString("| Go (ringbus), same medians in µs |")
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
	fmt.Fprint(&b, "| Runtime |")
	for _, s := range rep.Scenarios {
		fmt.Fprintf(&b, " %s |", s.Column)
	}
	fmt.Fprint(&b, "\n| --- |")
	for range rep.Scenarios {
		fmt.Fprint(&b, " --- |")
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, rep.Row)
	fmt.Fprintln(&b, rep.AllocRow)
	fmt.Fprintln(&b, microRow(rep.Scenarios))
	fmt.Fprintln(&b)
	for _, s := range rep.Scenarios {
		if !s.OK {
			fmt.Fprintf(&b, "%s: FAILED: %s\n", s.ID, s.Failed)
		}
	}
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
