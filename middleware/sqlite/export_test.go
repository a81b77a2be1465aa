package sqlitemirror

// WithBeforeWrite makes the writer call f, with the batch's size, before
// each batch's transaction: a test makes the disk slow with it.
func WithBeforeWrite(f func(rows int)) Option {
	return optionFunc(func(c *config) { c.beforeWrite = func(rows int) bool { f(rows); return false } })
}

// WithDiscardWrites makes the writer count each batch as written without
// touching the database: a benchmark measures the hooks and the queue
// with it.
func WithDiscardWrites() Option {
	return optionFunc(func(c *config) { c.beforeWrite = func(int) bool { return true } })
}

// The repr helpers, for their table tests.
var (
	PyQuote    = pyQuote
	ResultRepr = resultRepr
	ErrorRepr  = errorRepr
)

// TopLevel is the scan of the JSON of an event for one of its keys.
func TopLevel(s, key string) (string, bool) {
	v, ok := topLevel([]byte(s), key)
	return string(v), ok
}

// RowJSON takes the row with id out of an event's JSON ("" if absent).
func RowJSON(eventJSON, id string) string {
	b := []byte(eventJSON)
	return string(rowJSON(&entry{json: b, buf: &b, resultID: id}))
}
