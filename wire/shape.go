package wire

// ShapeOf returns the Encoder that writes an event back in the shape of
// data, the JSON of one event: Upstream when data has
// event_blocks_parent_completion or event_results, with ResultsAsList when
// event_results is an array; Compat242 otherwise. The roundtrip command
// uses it to echo events in the form it received them. Malformed data
// gives the zero Encoder.
func ShapeOf(data []byte) Encoder {
	// Echoing each event in its writer mode: WIRE-14.
	sc := scanner{s: string(data)}
	var enc Encoder
	if sc.peek() != '{' {
		return enc
	}
	sc.pos++
	if sc.peek() == '}' {
		return enc
	}
	for {
		k, _, err := sc.str()
		if err != nil || sc.expect(':') != nil {
			return Encoder{}
		}
		switch k {
		case "event_blocks_parent_completion":
			enc.Mode = Upstream
		case "event_results":
			switch sc.peek() {
			case '[':
				enc.Mode, enc.ResultsAsList = Upstream, true
			case '{':
				enc.Mode = Upstream
			}
		}
		if _, err := sc.skip(1); err != nil {
			return Encoder{}
		}
		more, err := sc.next('}')
		if err != nil {
			return Encoder{}
		}
		if !more {
			return enc
		}
	}
}
