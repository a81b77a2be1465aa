// Package perf holds ringbus's benchmark scenarios: the five workloads of
// the abxbus runtime table, ported literally from the reference harness
// (same counts, batch sizes, history limits, trims, divisors, checksums and
// ok conditions; the worst case as abxbus 2.4.2 defines it), and the
// micro-benchmarks of the dispatch core, each beside a plain-channel baseline
// measured in the same run.
//
// Run a scenario from Go with Run:
//
//	res, err := perf.Run(ctx, perf.Scenario50kEvents, perf.Config{})
//	fmt.Printf("%.3fms/%s %.3fkb/%s\n", res.MsPerUnit(), res.Unit, res.KBPerUnit(), res.Unit)
//
// cmd/perfmatrix runs each scenario in a fresh process and prints ringbus's
// row of the table; pprof profiles one scenario; perf/peers (a module of its
// own) compares ringbus with other Go pub/sub libraries. The micro-benchmarks
// run with make bench (go test -bench . -benchmem -count 10 ./perf/); compare
// runs with benchstat. See README-performance.md in this folder.
package perf
