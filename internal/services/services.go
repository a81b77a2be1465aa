// Package services gives tests the local PostgreSQL, Redis and NATS that
// every development and CI machine runs on loopback, and names that are
// unique per test run (key prefixes, subjects, channels, tables), so that
// parallel runs and leftovers of earlier runs cannot collide.
//
// A test that needs a service that is down skips saying which one and how
// to start it; under CI=true it fails instead, since CI must not pass by
// skipping.
//
// A test that kills or restarts a server must not do it to the shared one:
// StartRedis, StartNATS and StartPostgres run a server of the test's own on
// a free loopback port, as a child process that the test may Kill, Stop
// and Restart on the same port (see Instance), and that the test's cleanup
// kills. A missing server binary skips or fails the test in the same way.
package services

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Service is a local server a test may need.
type Service struct {
	Name string // "redis"
	Addr string // "127.0.0.1:6379"
}

// The services of the machines (see scripts/services.sh).
var (
	Postgres = Service{Name: "postgres", Addr: "127.0.0.1:5432"}
	Redis    = Service{Name: "redis", Addr: "127.0.0.1:6379"}
	NATS     = Service{Name: "nats", Addr: "127.0.0.1:4222"}
)

// Require returns s's address once a TCP connection to it succeeds. When
// none does within two seconds it skips t, or fails it under CI=true,
// naming the service and the script that starts it.
func Require(t testing.TB, s Service) string {
	t.Helper()
	var err error
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", s.Addr, 500*time.Millisecond); err == nil {
			_ = c.Close()
			return s.Addr
		}
	}
	unavailable(t, "this test needs "+s.Name+" on "+s.Addr+" (start it with scripts/services.sh "+s.Name+"): "+err.Error())
	return ""
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// Unique returns a name for t that no other run shares: prefix, the test's
// name reduced to letters, digits and underscores, and 8 random hex
// digits, such as "ringbus_TestRoundTrip_3fa91c07". It suits a Redis key
// prefix or channel, a NATS subject token and a PostgreSQL identifier.
func Unique(t testing.TB, prefix string) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.Trim(unsafeChars.ReplaceAllString(t.Name(), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return prefix + "_" + name + "_" + hex.EncodeToString(b[:])
}
