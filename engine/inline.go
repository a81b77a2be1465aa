package engine

// An event's lists, event_path, its result rows and the buses it was
// emitted to, and the accessors that hide how they are stored. The event
// lock (Event.mu) guards them all.

// The first path entry, row and bus are stored inline so that the common
// single-bus, single-handler event makes no extra allocation for them.

func (e *Event) pathLen() int {
	if e.path0 == "" {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.pathMore)
}

func (e *Event) pathAt(i int) string {
	if i == 0 {
		return e.path0
	}
	return e.ext.pathMore[i-1]
}

func (e *Event) addPath(label string) {
	if e.path0 == "" {
		e.path0 = label
		return
	}
	x := e.extension()
	x.pathMore = append(x.pathMore, label)
}

func (e *Event) rowCount() int {
	if e.row0 == nil {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.rowsMore)
}

func (e *Event) rowAt(i int) *Result {
	if i == 0 {
		return e.row0
	}
	return e.ext.rowsMore[i-1]
}

func (e *Event) addRow(r *Result) {
	if e.row0 == nil {
		e.row0 = r
		return
	}
	x := e.extension()
	x.rowsMore = append(x.rowsMore, r)
}

func (e *Event) busCount() int {
	if e.bus0 == nil {
		return 0
	}
	if e.ext == nil {
		return 1
	}
	return 1 + len(e.ext.busesMore)
}

// busAt returns the i-th bus and whether its processing was claimed.
func (e *Event) busAt(i int) (*Bus, bool) {
	if i == 0 {
		return e.bus0, e.flags&flagClaimed0 != 0
	}
	be := e.ext.busesMore[i-1]
	return be.bus, be.claimed
}

func (e *Event) setClaimed(i int) {
	if i == 0 {
		e.flags |= flagClaimed0
		return
	}
	e.ext.busesMore[i-1].claimed = true
}

func (e *Event) removeLastBus(b *Bus) {
	if e.ext != nil && len(e.ext.busesMore) > 0 {
		if last := len(e.ext.busesMore) - 1; e.ext.busesMore[last].bus == b {
			e.ext.busesMore = e.ext.busesMore[:last]
		}
		return
	}
	if e.bus0 == b {
		e.bus0 = nil
		e.flags &^= flagClaimed0
	}
}

func (e *Event) addBus(b *Bus) {
	if e.bus0 == nil {
		e.bus0 = b
		return
	}
	x := e.extension()
	x.busesMore = append(x.busesMore, busEntry{bus: b})
}
