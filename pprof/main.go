// Command pprof runs one performance scenario under the Go profilers and
// writes the profiles into a folder it prints:
//
//	cpu.pprof        CPU profile; samples carry the labels scenario=<id>,
//	                 bus=<bus name> and event=<event_type> (handler code only)
//	heap.pprof       live heap after the run (after a GC)
//	allocs.pprof     every allocation sampled during the run
//	mutex.pprof      mutex contention
//	block.pprof      blocking on channels, selects, mutexes and conds
//	goroutine.pprof  the goroutines left after the run
//	trace.out        the execution trace
//
// Open them with go tool pprof (see perf/README-performance.md):
//
//	go run ./pprof -scenario 50k-events
//	go tool pprof -http=:8080 pprof/out/50k-events-*/cpu.pprof
//	go tool pprof -tagfocus=event=PerfSimpleEvent -top pprof/out/50k-events-*/cpu.pprof
//	go tool trace pprof/out/50k-events-*/trace.out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"time"

	"github.com/ringbus/ringbus/perf"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	scenario      string
	out           string
	scale         float64
	mutexFraction int
	blockRate     int
	memRate       int
	labels        bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("pprof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", perf.Scenario50kEvents, "scenario id: "+strings.Join(perf.IDs(), ", "))
	fs.StringVar(&o.out, "out", "", "folder for the profiles (default pprof/out/<scenario>-<time>)")
	fs.Float64Var(&o.scale, "scale", 1, "multiply the scenario's counts (1 = the table's sizes)")
	fs.IntVar(&o.mutexFraction, "mutexfraction", 5, "runtime.SetMutexProfileFraction: report 1 in n contention events")
	fs.IntVar(&o.blockRate, "blockrate", 10_000, "runtime.SetBlockProfileRate: sample one blocking event per n ns blocked")
	fs.IntVar(&o.memRate, "memrate", 0, "runtime.MemProfileRate in bytes (0 keeps the default, 512 KiB; 1 records every allocation)")
	fs.BoolVar(&o.labels, "labels", true, "label handler execution with bus and event type (pprof.Do per handler call)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if _, ok := perf.Lookup(o.scenario); !ok {
		return o, fmt.Errorf("unknown scenario %q (want one of %s)", o.scenario, strings.Join(perf.IDs(), ", "))
	}
	if o.scale <= 0 {
		return o, errors.New("-scale must be positive")
	}
	if o.out == "" {
		o.out = filepath.Join("pprof", "out", o.scenario+"-"+time.Now().Format("20060102-150405"))
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		logf(stderr, "pprof: %v\n", err)
		return 2
	}
	res, err := profile(o)
	if err != nil {
		logf(stderr, "pprof: %v\n", err)
		return 1
	}
	dir, _ := filepath.Abs(o.out)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %ss in %v: %.4fms/%s, %.3fkb/%s, %.1f allocs/%s, ok=%v\n",
		res.ID, res.Units, res.Unit, res.Elapsed, res.MsPerUnit(), res.Unit, res.KBPerUnit(), res.Unit,
		res.AllocsPerUnit(), res.Unit, res.OK)
	if o.labels {
		fmt.Fprintln(&b, "(handlers ran under pprof.Do labels, which adds allocations: use cmd/perfmatrix for the figures)")
	}
	fmt.Fprintf(&b, "profiles written to %s\n", dir)
	for _, f := range profileFiles {
		fmt.Fprintf(&b, "  %s\n", filepath.Join(dir, f))
	}
	fmt.Fprintf(&b, "open with:\n  go tool pprof -http=:8080 %s\n  go tool pprof -top -tagfocus=bus=%s %s\n  go tool trace %s\n",
		filepath.Join(dir, "cpu.pprof"), busHint(res.ID), filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "trace.out"))
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		logf(stderr, "pprof: %v\n", err)
		return 1
	}
	if !res.OK {
		logf(stderr, "pprof: %s failed its ok condition: %s %v\n", res.ID, res.Error, res.Detail)
		return 1
	}
	return 0
}

var profileFiles = []string{"cpu.pprof", "heap.pprof", "allocs.pprof", "mutex.pprof", "block.pprof", "goroutine.pprof", "trace.out"}

// busHint names a bus of the scenario for the printed tagfocus example.
func busHint(id string) string {
	switch id {
	case perf.ScenarioEphemeralBuses:
		return "PerfEphemeralBus_0"
	case perf.ScenarioParallelHandlers:
		return "PerfFixedHandlersBus"
	case perf.ScenarioOneOffHandlers:
		return "PerfOnOffBus"
	case perf.ScenarioWorstCase:
		return "PerfWorstCaseC"
	}
	return "Perf50kBus"
}

// profile runs the scenario with every profiler on and writes the files.
func profile(o options) (perf.Result, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return perf.Result{}, err
	}
	create := func(name string) (*os.File, error) { return os.Create(filepath.Join(o.out, name)) }

	if o.memRate > 0 {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = o.memRate
		defer func() { runtime.MemProfileRate = old }()
	}
	oldMutex := runtime.SetMutexProfileFraction(o.mutexFraction)
	defer runtime.SetMutexProfileFraction(oldMutex)
	runtime.SetBlockProfileRate(o.blockRate)
	defer runtime.SetBlockProfileRate(0)

	cpuF, err := create("cpu.pprof")
	if err != nil {
		return perf.Result{}, err
	}
	defer func() { _ = cpuF.Close() }() // for the early returns; the last line closes it and checks
	traceF, err := create("trace.out")
	if err != nil {
		return perf.Result{}, err
	}
	defer func() { _ = traceF.Close() }() // for the early returns; the last line closes it and checks

	if err := pprof.StartCPUProfile(cpuF); err != nil {
		return perf.Result{}, err
	}
	if err := trace.Start(traceF); err != nil {
		pprof.StopCPUProfile()
		return perf.Result{}, err
	}
	var res perf.Result
	var runErr error
	ctx := context.Background()
	pprof.Do(ctx, pprof.Labels("scenario", o.scenario), func(ctx context.Context) {
		trace.WithRegion(ctx, o.scenario, func() {
			res, runErr = perf.Run(ctx, o.scenario, perf.Config{Scale: o.scale, Labels: o.labels})
		})
	})
	trace.Stop()
	pprof.StopCPUProfile()
	if runErr != nil {
		return res, runErr
	}

	runtime.GC() // heap.pprof shows the live heap as of the last GC
	for _, p := range []struct{ file, name string }{
		{"heap.pprof", "heap"},
		{"allocs.pprof", "allocs"},
		{"mutex.pprof", "mutex"},
		{"block.pprof", "block"},
		{"goroutine.pprof", "goroutine"},
	} {
		f, err := create(p.file)
		if err != nil {
			return res, err
		}
		werr := pprof.Lookup(p.name).WriteTo(f, 0)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return res, fmt.Errorf("%s: %w", p.file, err)
		}
	}
	return res, errors.Join(cpuF.Close(), traceF.Close())
}

// logf writes a diagnostic to w. A diagnostic that cannot be written has
// nowhere else to go, so its error is dropped here, in one place.
func logf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
