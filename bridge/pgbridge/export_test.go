package pgbridge

// ListenerPID returns the process ID of the backend the transport listens
// on, for the test that terminates it.
func ListenerPID(t *Transport) uint32 { return t.pid.Load() }
