package pool

// WorkersForTest returns the number of live ants workers, busy or idle.
func (p *Pool) WorkersForTest() int {
	return p.workers.Running()
}
