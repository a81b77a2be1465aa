package wal

// File is what the WAL writes to, for tests that wrap it.
type File = file

// WithFileWrapper makes Open hand its file to wrap and write to what wrap
// returns, before any line is written and before the WAL's goroutine
// starts.
func WithFileWrapper(wrap func(File) File) Option {
	return optionFunc(func(c *config) { c.wrap = wrap })
}
