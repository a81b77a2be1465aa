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

// TopLevel is the scan of the JSON of an event for one of its keys.
var TopLevel = topLevel

// RowJSON takes the row with id out of an event's JSON ("" if absent).
func RowJSON(eventJSON, id string) string {
	return rowJSON(&entry{json: eventJSON, jsonOK: true, resultID: id}).String
}
