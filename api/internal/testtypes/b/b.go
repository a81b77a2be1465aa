// Package b declares event types whose struct names are also used by
// package a, for the tests of package api. It is not for use outside them.
package b

import "github.com/ringbus/ringbus/api"

// Clash is an event whose struct name package a uses too.
type Clash struct {
	api.Event[string]
	B int `json:"b"`
}

// Renamed is an event whose struct name package a uses too.
type Renamed struct {
	api.Event[string]
	B int `json:"b"`
}

// Raced is an event whose struct name package a uses too.
type Raced struct {
	api.Event[string]
	B int `json:"b"`
}
