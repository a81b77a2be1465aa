package ringbusotel

// Live returns how many event and handler spans the Tracer holds in flight.
func (t *Tracer) Live() (events, rows int) { return t.events.len(), t.rows.len() }

// Sweep runs a sweep of both tables now.
func (t *Tracer) Sweep() {
	t.events.sweep()
	t.rows.sweep()
}

// SweepFloor is the table size below which no sweep runs on its own.
const SweepFloor = sweepFloor
