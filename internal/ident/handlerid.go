package ident

// HandlerIDOf is [HandlerID] with the bus id and the registration time given
// in their stored forms; it formats them into a stack buffer, so deriving a
// handler id does not allocate (registration is on the path of one-off
// handlers).
func HandlerIDOf(eventbusID UUID, handlerName, handlerFilePath string, registeredAt Time, eventPattern string) UUID {
	if handlerFilePath == "" {
		handlerFilePath = "unknown"
	}
	var stack [256]byte
	b := append(stack[:0], handlerNamespace[:]...)
	b = eventbusID.AppendText(b)
	b = append(b, '|')
	b = append(b, handlerName...)
	b = append(b, '|')
	b = append(b, handlerFilePath...)
	b = append(b, '|')
	b = registeredAt.AppendText(b)
	b = append(b, '|')
	b = append(b, eventPattern...)
	return v5(b)
}

// HandlerIDs derives the handler ids of one bus: [HandlerIDOf] with the bus
// id's text formatted once and the registration time formatted through a
// [TimeCache], so a run of registrations (one-off handlers) formats neither
// again. Its ids are exactly HandlerIDOf's. The zero value is not usable;
// create one with NewHandlerIDs (a plain value: it can live inside another
// struct). A HandlerIDs must not be used by several goroutines at once.
type HandlerIDs struct {
	head [len(handlerNamespace) + uuidTextLen + 1]byte // name space, bus id, '|'
	tc   TimeCache
}

// NewHandlerIDs returns the id deriver of the bus eventbusID.
func NewHandlerIDs(eventbusID UUID) HandlerIDs {
	var g HandlerIDs
	b := append(g.head[:0], handlerNamespace[:]...)
	b = eventbusID.AppendText(b)
	_ = append(b, '|')
	return g
}

// Derive returns HandlerIDOf(the bus id, handlerName, handlerFilePath,
// registeredAt, eventPattern).
func (g *HandlerIDs) Derive(handlerName, handlerFilePath string, registeredAt Time, eventPattern string) UUID {
	if handlerFilePath == "" {
		handlerFilePath = "unknown"
	}
	var stack [256]byte
	b := append(stack[:0], g.head[:]...)
	b = append(b, handlerName...)
	b = append(b, '|')
	b = append(b, handlerFilePath...)
	b = append(b, '|')
	b = g.tc.AppendText(b, registeredAt)
	b = append(b, '|')
	b = append(b, eventPattern...)
	return v5(b)
}
