package sqlitemirror

// WithBeforeWrite makes the writer call f, with the batch's size, before
// each batch's transaction: a test makes the disk slow with it.
func WithBeforeWrite(f func(rows int)) Option {
	return optionFunc(func(c *config) { c.beforeWrite = f })
}

// The repr helpers, for their table tests.
var (
	PyQuote    = pyQuote
	ResultRepr = resultRepr
	ErrorRepr  = errorRepr
)
