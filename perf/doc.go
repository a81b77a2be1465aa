// Package perf holds ringbus's benchmark scenarios: the workloads of the
// abxbus runtime table and the micro-benchmarks of the dispatch core, each
// beside a plain-channel baseline measured in the same run.
//
// Run them with make bench (go test -bench . -benchmem -count 10 ./perf/)
// and compare runs with benchstat.
package perf
