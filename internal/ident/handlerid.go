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
