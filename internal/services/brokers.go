package services

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// StartRedis starts a Redis server of t's own on a free loopback port, in a
// temporary directory and keeping nothing on disk, and returns once it
// answers PING. The test's cleanup kills it. When redis-server is not
// installed it skips t, or fails it under CI=true.
func StartRedis(t testing.TB) *Instance {
	t.Helper()
	return start(t, &Instance{
		kind: "redis",
		bin:  findBinary(t, "redis-server", "redis-server"),
		args: func(dir string, port int) []string {
			return []string{
				"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--dir", dir,
				"--daemonize", "no", "--logfile", "",
			}
		},
		probe:   redisPing,
		url:     func(addr string) string { return "redis://" + addr + "/0" },
		stopSig: syscall.SIGTERM,
	})
}

// redisPing says whether the server on c answers PING with PONG (while it
// loads, Redis answers with an error instead).
func redisPing(c net.Conn) error {
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return errors.New("redis answered PING with " + strconv.Quote(line))
	}
	return nil
}

// StartNATS starts a core NATS server (no JetStream, no monitoring port) of
// t's own on a free loopback port and returns once it greets a client with
// its INFO line. The test's cleanup kills it. When nats-server is not
// installed it skips t, or fails it under CI=true.
func StartNATS(t testing.TB) *Instance {
	t.Helper()
	return start(t, &Instance{
		kind:  "nats",
		bin:   findBinary(t, "nats-server", "nats-server"),
		args:  func(_ string, port int) []string { return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)} },
		probe: natsInfo,
		url:   func(addr string) string { return "nats://" + addr },
		// nats-server exits with status 1 on SIGTERM, 0 on SIGINT.
		stopSig: syscall.SIGINT,
	})
}

// natsInfo says whether the server on c greets with an INFO line, as a NATS
// server does as soon as it accepts a client.
func natsInfo(c net.Conn) error {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return errors.New("nats greeted with " + strconv.Quote(line))
	}
	return nil
}
