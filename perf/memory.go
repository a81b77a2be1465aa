package perf

// memoryTracker is the reference harness's MemoryTracker: the resident set
// size when it is created is the baseline, and every sample raises the peak.
// The scenarios sample at the same points as the reference.
type memoryTracker struct {
	baseline int64 // bytes
	peak     int64 // bytes
}

func newMemoryTracker() *memoryTracker {
	rss := residentBytes()
	return &memoryTracker{baseline: rss, peak: rss}
}

func (m *memoryTracker) sample() {
	if rss := residentBytes(); rss > m.peak {
		m.peak = rss
	}
}

// peakDeltaKB returns max(0, peak - baseline) in KiB.
func (m *memoryTracker) peakDeltaKB() float64 {
	d := m.peak - m.baseline
	if d < 0 {
		d = 0
	}
	return float64(d) / 1024
}
