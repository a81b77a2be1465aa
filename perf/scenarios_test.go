package perf

import (
	"context"
	"testing"
	"time"
)

// testScale runs every scenario at 2% of its size (1,000 events, 10 buses,
// 1,000 handlers, 10 worst-case iterations): enough to exercise every step,
// quick under the race detector.
const testScale = 0.02

// TestScenarios runs each scenario at reduced size and checks its ok
// condition, so a broken scenario (or an engine change that breaks one)
// fails CI. The timed figures are not checked.
func TestScenarios(t *testing.T) {
	for _, sc := range Scenarios() {
		t.Run(sc.ID, func(t *testing.T) {
			start := time.Now()
			res, err := Run(context.Background(), sc.ID, Config{Scale: testScale})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			t.Logf("%s: units=%d elapsed=%v %.4fms/%s %.3fkb/%s %.1f allocs/%s detail=%v (wall %v)",
				sc.ID, res.Units, res.Elapsed, res.MsPerUnit(), res.Unit, res.KBPerUnit(), res.Unit,
				res.AllocsPerUnit(), res.Unit, res.Detail, time.Since(start))
			if !res.OK {
				t.Fatalf("ok condition failed: error=%q detail=%v", res.Error, res.Detail)
			}
			if res.ID != sc.ID || res.Unit != sc.Unit {
				t.Errorf("result id/unit = %q/%q, want %q/%q", res.ID, res.Unit, sc.ID, sc.Unit)
			}
			if res.Units <= 0 || res.Elapsed <= 0 || res.Allocs == 0 {
				t.Errorf("figures not filled in: units=%d elapsed=%v allocs=%d", res.Units, res.Elapsed, res.Allocs)
			}
		})
	}
}

func TestRunUnknownScenario(t *testing.T) {
	if _, err := Run(context.Background(), "no-such-scenario", Config{}); err == nil {
		t.Fatal("Run accepted an unknown scenario id")
	}
}

func TestConfigCount(t *testing.T) {
	for _, c := range []struct {
		scale float64
		full  int
		want  int
	}{
		{0, 50_000, 50_000},
		{1, 500, 500},
		{0.02, 50_000, 1_000},
		{0.02, 500, 10},
		{0.0001, 500, 1},
	} {
		if got := (Config{Scale: c.scale}).count(c.full); got != c.want {
			t.Errorf("Config{Scale: %v}.count(%d) = %d, want %d", c.scale, c.full, got, c.want)
		}
	}
}

func TestLabelsKeepScenariosWorking(t *testing.T) {
	// The pprof wrapper derives a context from the handler's ctx: emitting
	// and queue-jumping with it must still link children (worst case).
	res, err := Run(context.Background(), ScenarioWorstCase, Config{Scale: testScale, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("worst case with labels failed: %q %v", res.Error, res.Detail)
	}
}

func TestResidentBytes(t *testing.T) {
	if residentBytes() <= 0 {
		t.Skip("no RSS reading on this platform")
	}
	m := newMemoryTracker()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = 1
	}
	m.sample()
	if m.peakDeltaKB() < 32<<10 {
		t.Errorf("peak delta %.0f KiB after touching 64 MiB", m.peakDeltaKB())
	}
	_ = buf[len(buf)-1]
}
