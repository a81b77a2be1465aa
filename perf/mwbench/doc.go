// Package mwbench holds the benchmarks of the middlewares in package
// middleware and its subpackages, each against the bare bus of the same
// run (go test -run '^$' -bench . -benchmem ./perf/mwbench/).
//
// They live apart from package perf so that perf's test binary links only
// the core: the middlewares bring the wire codec, whose tables stay live on
// the heap for the life of the process, and a collector that marks them on
// every cycle would be counted into every core benchmark's cost per event.
package mwbench
