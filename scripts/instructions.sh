#!/usr/bin/env bash
# Counts the instructions one iteration of a perf benchmark costs, with
# callgrind, the way the README's figures are taken:
#
#   scripts/instructions.sh                                  # BenchmarkEmitBatch/ringbus
#   scripts/instructions.sh '^BenchmarkRoundTrip$/^ringbus$'
#   BIN=/tmp/old/perf.test scripts/instructions.sh           # a binary built elsewhere
#
# It builds the perf test binary (unless BIN names one), runs the benchmark
# under valgrind --tool=callgrind for LO and for HI iterations (20,000 and
# 220,000) at -test.cpu 1 with GODEBUG=asyncpreemptoff=1 (preemption signals
# would add the signal handler's instructions at random points), and prints
# (instructions(HI) - instructions(LO)) / (HI - LO): the cost of one more
# iteration, the start-up, the bus's creation and the GC's fixed work left
# out. Everything the process does in between counts, the GC's share of
# marking and sweeping included. Needs valgrind (apt-get install valgrind).
set -eu

re=${1:-'^BenchmarkEmitBatch$/^ringbus$'}
lo=${LO:-20000}
hi=${HI:-220000}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${BIN:-}
if [ -z "$bin" ]; then
	bin=$work/perf.test
	go test -c -o "$bin" ./perf/
fi

count() { # iterations -> total instructions of the run
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" \
		"$bin" -test.run '^$' -test.bench "$re" -test.benchtime "${1}x" -test.cpu 1 -test.count 1 >"$work/log.$1" 2>&1 ||
		{ cat "$work/log.$1" >&2; exit 1; }
	callgrind_annotate "$work/cg.$1" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}

a=$(count "$lo")
b=$(count "$hi")
echo "$re: $(( (b - a) / (hi - lo) )) instructions per iteration (callgrind, $lo and $hi iterations, -test.cpu 1)"
