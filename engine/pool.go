package engine

// The bus's goroutine pool, made on first use, on which parallel events
// (dispatcher.go) and parallel handlers (runners.go) run; every task is
// counted in the bus's runners, which Stop and Close wait for (bus.go).

import "github.com/ringbus/ringbus/pool"

// getPool returns the bus's goroutine pool for parallel work, created on
// first use.
func (b *Bus) getPool() (*pool.Pool, error) {
	if p := b.pool.Load(); p != nil {
		return p, nil
	}
	b.poolMu.Lock()
	defer b.poolMu.Unlock()
	if p := b.pool.Load(); p != nil {
		return p, nil
	}
	p, err := pool.New(1024)
	if err != nil {
		return nil, err
	}
	b.pool.Store(p)
	return p, nil
}

// runTask runs t on the bus pool (or a goroutine if the pool cannot be
// made), counted in the bus's runners so that Stop waits for it.
func (b *Bus) runTask(t pool.Task) {
	b.runners.Add(1)
	task := countedTask{t: t, b: b}
	p, err := b.getPool()
	if err != nil || !p.TryGo(&task) {
		go task.Run() // pool closed or unavailable: the task still runs
	}
}

type countedTask struct {
	t pool.Task
	b *Bus
}

func (c *countedTask) Run() {
	defer c.b.runners.Done()
	c.t.Run()
}
