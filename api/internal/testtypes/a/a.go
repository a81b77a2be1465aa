// Package a declares event types whose struct names are also used by
// package b, for the tests of package api. It is not for use outside them.
package a

import "github.com/ringbus/ringbus/api"

// Clash is an event whose struct name package b uses too.
type Clash struct {
	api.Event[string]
	A string `json:"a"`
}

// Renamed is an event whose struct name package b uses too; the test gives
// b's type a name of its own.
type Renamed struct {
	api.Event[string]
	A string `json:"a"`
}

// Raced is an event whose struct name package b uses too; the test
// declares both at once.
type Raced struct {
	api.Event[string]
	A string `json:"a"`
}
