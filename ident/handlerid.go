package ident

// HandlerIDs derives the handler ids of one bus: [HandlerID] with the bus id
// and the registration time given in their stored forms, the bus id's text
// formatted once and the registration time formatted through a [TimeCache],
// into a stack buffer. So a run of registrations (one-off handlers) neither
// allocates nor formats the bus id again. Its ids are exactly HandlerID's. The zero value is not usable;
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

// Derive returns HandlerID(the bus id, handlerName, handlerFilePath,
// registeredAt's text, eventPattern).
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
