package perf

import (
	"context"
	"testing"
)

// The five scenarios of the abxbus runtime table as Go benchmarks. Each
// iteration runs the whole scenario (setup included in ns/op); the figures
// to read are the custom metrics, taken over the timed region exactly as
// cmd/perfmatrix takes them: ms/<unit>, kb/<unit> (peak RSS delta) and
// allocs/<unit>. With -short they run at 10% of their size.
//
//	go test -run '^$' -bench Scenario -benchtime 3x ./perf/

func BenchmarkScenario50kEvents(b *testing.B)        { benchScenario(b, Scenario50kEvents) }
func BenchmarkScenarioEphemeralBuses(b *testing.B)   { benchScenario(b, ScenarioEphemeralBuses) }
func BenchmarkScenarioParallelHandlers(b *testing.B) { benchScenario(b, ScenarioParallelHandlers) }
func BenchmarkScenarioOneOffHandlers(b *testing.B)   { benchScenario(b, ScenarioOneOffHandlers) }
func BenchmarkScenarioWorstCase(b *testing.B)        { benchScenario(b, ScenarioWorstCase) }

func benchScenario(b *testing.B, id string) {
	cfg := Config{}
	if testing.Short() {
		cfg.Scale = 0.1
	}
	var ms, kb, allocs float64
	var unit string
	runs := 0
	for b.Loop() {
		res, err := Run(context.Background(), id, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK {
			b.Fatalf("%s failed its ok condition: %q %v", id, res.Error, res.Detail)
		}
		ms += res.MsPerUnit()
		kb += res.KBPerUnit()
		allocs += res.AllocsPerUnit()
		unit = res.Unit
		runs++
	}
	n := float64(runs)
	b.ReportMetric(ms/n, "ms/"+unit)
	b.ReportMetric(kb/n, "kb/"+unit)
	b.ReportMetric(allocs/n, "allocs/"+unit)
}
