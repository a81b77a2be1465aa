package services_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ringbus/ringbus/internal/leakcheck"
	"github.com/ringbus/ringbus/internal/services"
)

// broker is a kind of server the tests start, with a check that speaks its
// protocol over a raw TCP connection.
type broker struct {
	name   string
	start  func(testing.TB) *services.Instance
	check  func(t *testing.T, addr string)
	scheme string
}

var brokers = []broker{
	{"redis", services.StartRedis, checkRedis, "redis://"},
	{"nats", services.StartNATS, checkNATS, "nats://"},
}

// eachBroker runs test for every broker, in a subtest with an instance of
// its own.
func eachBroker(t *testing.T, test func(t *testing.T, b broker, in *services.Instance)) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) { test(t, b, b.start(t)) })
	}
}

// dial connects to addr with a deadline for the whole exchange.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
	return c, bufio.NewReader(c)
}

// checkRedis sends PING and expects PONG.
func checkRedis(t *testing.T, addr string) {
	t.Helper()
	c, r := dial(t, addr)
	_, err := c.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", line)
}

// checkNATS expects the INFO line a NATS server greets a client with,
// naming the port it listens on.
func checkNATS(t *testing.T, addr string) {
	t.Helper()
	_, r := dial(t, addr)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "INFO {"), "greeting %q", line)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Contains(t, line, `"port":`+port)
}

// checkPostgres opens a session as user postgres and runs SELECT 41+1,
// expecting one row with "42".
func checkPostgres(t *testing.T, addr string) {
	t.Helper()
	c, r := dial(t, addr)
	startup := "\x00\x03\x00\x00user\x00postgres\x00database\x00postgres\x00\x00"
	query := "SELECT 41+1\x00"
	msgs := binary.BigEndian.AppendUint32(nil, uint32(4+len(startup)))
	msgs = append(msgs, startup...)
	msgs = binary.BigEndian.AppendUint32(append(msgs, 'Q'), uint32(4+len(query)))
	msgs = append(msgs, query...)
	_, err := c.Write(msgs)
	require.NoError(t, err)
	var types []byte
	var row []byte
	for ready := 0; ready < 2; { // after the startup and after the query
		var head [5]byte
		_, err := io.ReadFull(r, head[:])
		require.NoError(t, err)
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		_, err = io.ReadFull(r, body)
		require.NoError(t, err)
		require.NotEqual(t, byte('E'), head[0], "error %q", body)
		switch head[0] {
		case 'Z':
			ready++
		case 'D':
			row = body
		}
		types = append(types, head[0])
	}
	assert.True(t, strings.HasSuffix(string(types), "ZTDCZ"), "messages %q", types) // ReadyForQuery, RowDescription, DataRow, CommandComplete, ReadyForQuery
	// DataRow: 1 column, 2 bytes, "42".
	assert.Equal(t, []byte{0, 1, 0, 0, 0, 2, '4', '2'}, row)
}

// refused checks that nothing listens on addr any more.
func refused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// gone checks that no process has the ID pid (the server exited and was
// reaped, so it is not even a zombie) and that no process of its group
// runs (what the server forked died with it; init may not have reaped
// them yet).
func gone(t *testing.T, pid int) {
	t.Helper()
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d", pid)
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pid) {
			assert.Equal(t, "Z", f[0], "%s: a process of the server's group runs", path)
		}
	}
}

// The instance listens on a loopback port of its own, never a shared
// server's, and its URL names that port.
func TestInstanceOwnPort(t *testing.T) {
	eachBroker(t, func(t *testing.T, b broker, in *services.Instance) {
		host, port, err := net.SplitHostPort(in.Addr())
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host)
		assert.NotContains(t, []string{"6379", "4222"}, port)
		assert.True(t, strings.HasPrefix(in.URL(), b.scheme+in.Addr()), in.URL())
		b.check(t, in.Addr())
	})
	in := services.StartRedis(t)
	assert.Equal(t, "redis://"+in.Addr()+"/0", in.URL())
}

// Kill ends the server at once: the port refuses connections and the
// process is gone. Restart brings it back on the same address, as a new
// process.
func TestInstanceKillRestart(t *testing.T) {
	eachBroker(t, func(t *testing.T, b broker, in *services.Instance) {
		addr := in.Addr()
		b.check(t, addr)
		pid := in.PID()
		require.True(t, in.Running())
		require.NotZero(t, pid)

		in.Kill()
		assert.False(t, in.Running())
		assert.Zero(t, in.PID())
		refused(t, addr)
		gone(t, pid)
		in.Kill() // a second Kill does nothing

		in.Restart(t)
		require.True(t, in.Running())
		assert.Equal(t, addr, in.Addr())
		assert.NotEqual(t, pid, in.PID())
		b.check(t, addr)
	})
}

// Stop shuts the server down gracefully: it exits with status 0, which a
// SIGKILL would not give.
func TestInstanceStop(t *testing.T) {
	eachBroker(t, func(t *testing.T, b broker, in *services.Instance) {
		addr, pid := in.Addr(), in.PID()
		require.NoError(t, in.Stop())
		assert.False(t, in.Running())
		refused(t, addr)
		gone(t, pid)
		require.NoError(t, in.Stop()) // stopping a stopped server does nothing

		in.Restart(t)
		b.check(t, addr)
	})
}

// Restart of a running server replaces the process on the same address.
func TestInstanceRestartRunning(t *testing.T) {
	eachBroker(t, func(t *testing.T, b broker, in *services.Instance) {
		addr, pid := in.Addr(), in.PID()
		in.Restart(t)
		gone(t, pid)
		assert.NotEqual(t, pid, in.PID())
		assert.Equal(t, addr, in.Addr())
		b.check(t, addr)
	})
}

// A server that exits by itself is no longer Running; Kill then has
// nothing to kill, Stop reports how it exited and Restart starts it again.
func TestInstanceExitsByItself(t *testing.T) {
	in := services.StartRedis(t)
	pid := in.PID()
	c, _ := dial(t, in.Addr())
	_, err := c.Write([]byte("SHUTDOWN NOSAVE\r\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !in.Running() }, 5*time.Second, 10*time.Millisecond)
	gone(t, pid)
	require.NoError(t, in.Stop(), "redis exits with status 0 on SHUTDOWN")
	in.Kill()

	in.Restart(t)
	checkRedis(t, in.Addr())
}

// Restart waits for the port when the server cannot bind it yet (here
// another listener holds it for a while) and then starts on the same
// address.
func TestInstanceRestartWaitsForPort(t *testing.T) {
	eachBroker(t, func(t *testing.T, b broker, in *services.Instance) {
		addr := in.Addr()
		in.Kill()
		l, err := net.Listen("tcp", addr)
		require.NoError(t, err)
		released := make(chan struct{})
		time.AfterFunc(300*time.Millisecond, func() { close(released); _ = l.Close() })
		in.Restart(t)
		select {
		case <-released:
		default:
			t.Fatal("Restart returned while another listener held the port")
		}
		assert.Equal(t, addr, in.Addr())
		b.check(t, addr)
	})
}

// Each test's servers are its own: two instances have distinct ports, and
// killing one leaves the other answering.
func TestInstancesIndependent(t *testing.T) {
	a, b := services.StartRedis(t), services.StartRedis(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	a.Kill()
	checkRedis(t, b.Addr())
	refused(t, a.Addr())
}

// The cleanup of the test that started the servers kills them: no process
// and no goroutine of theirs is left, after restarts too.
func TestInstanceCleanup(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	var pids []int
	t.Run("servers", func(t *testing.T) {
		for _, b := range brokers {
			in := b.start(t)
			pids = append(pids, in.PID())
			in.Restart(t)
			pids = append(pids, in.PID())
		}
		stopped := services.StartNATS(t)
		require.NoError(t, stopped.Stop())
		pg := services.StartPostgres(t)
		checkPostgres(t, pg.Addr()) // a backend, forked by the postmaster
		pids = append(pids, pg.PID())
	})
	if len(pids) == 0 {
		t.Skip("no server started")
	}
	for _, pid := range pids {
		gone(t, pid)
	}
	goleak.VerifyNone(t, append(leakcheck.Options, ignore)...)
}

// PostgreSQL of the test's own, which takes a new cluster each, answers
// a query, dies with Kill (its backends too), keeps its data directory
// over Restart and shuts down cleanly with Stop.
func TestPostgresInstance(t *testing.T) {
	in := services.StartPostgres(t)
	addr := in.Addr()
	assert.Equal(t, "postgres://postgres@"+addr+"/postgres?sslmode=disable", in.URL())
	assert.NotEqual(t, "127.0.0.1:5432", addr)
	checkPostgres(t, addr)

	pid := in.PID()
	in.Kill()
	assert.False(t, in.Running())
	refused(t, addr)
	gone(t, pid)

	in.Restart(t)
	checkPostgres(t, addr)
	pid = in.PID()
	require.NoError(t, in.Stop())
	refused(t, addr)
	gone(t, pid)

	in.Restart(t)
	checkPostgres(t, addr)
}

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

// A missing server binary skips the test saying which package installs it,
// and fails it under CI=true.
func TestMissingBinary(t *testing.T) {
	for _, ci := range []bool{false, true} {
		t.Run("CI="+strconv.FormatBool(ci), func(t *testing.T) {
			t.Setenv("CI", strconv.FormatBool(ci))
			r := &recorder{TB: t}
			assert.Empty(t, services.Binary(r, "ringbus-no-such-server", "ringbus-server-pkg"))
			msg := r.skipped
			if ci {
				assert.Empty(t, r.skipped)
				msg = r.failed
			} else {
				assert.Empty(t, r.failed)
			}
			assert.Contains(t, msg, "ringbus-no-such-server")
			assert.Contains(t, msg, "apt-get install ringbus-server-pkg")
		})
	}
}
