// Package peers compares ringbus with other Go pub/sub libraries on the
// shape of the 50k-events scenario and on a single emit-and-wait round trip.
// It is a module of its own so that the peers never enter ringbus's go.mod.
package peers
