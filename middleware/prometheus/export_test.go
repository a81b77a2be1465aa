package ringbusprom

// Internals the tests look at: how much the collector holds.

// AttachedBuses returns how many buses the collector holds.
func (c *Collector) AttachedBuses() int {
	c.busMu.Lock()
	defer c.busMu.Unlock()
	return len(c.buses)
}

// UnreportedFailures returns how many failed events the collector holds
// until their completion.
func (c *Collector) UnreportedFailures() (held int, counted int64) {
	return c.failing.Size(), c.nFailing.Load()
}
