package services

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// How long a server may take to answer after it was started, and to exit
// after Stop asked it to. Both bound waits that normally take milliseconds;
// they are generous for a loaded CI machine under -race.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Instance is a server process that one test started for itself, on a
// loopback port of its own, so that the test may kill and restart it
// without touching the machine's shared servers. The test's cleanup kills
// it and waits for it to exit.
//
// An Instance is safe for concurrent use; its methods take turns, so a
// Running that overlaps a Restart waits for it. It must not be copied.
type Instance struct {
	kind    string                              // "redis"
	bin     string                              // path of the server binary
	dir     string                              // the server's directory; start makes one when empty
	args    func(dir string, port int) []string // the command line
	probe   func(net.Conn) error                // says whether the server on a connection is ready
	url     func(addr string) string
	stopSig syscall.Signal      // the signal of a graceful shutdown
	cred    *syscall.Credential // the user the server runs as; nil for ours
	logPath string              // the server's output, appended over restarts; set by start

	mu   sync.Mutex
	port int
	proc *process // nil after Kill or Stop
}

// process is one run of the server binary. Its Wait runs in the one
// goroutine that wait starts, which closes done when the process exited and
// was reaped; Kill and Stop join it by receiving from done.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // what Wait returned; read after done is closed
}

func (p *process) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs a new instance on a free port, in in.dir or a temporary
// directory, and registers its cleanup. A server that exits before it
// answers (most likely because another process took the port between the
// check and the bind) is tried again on another port, twice at most.
func start(t testing.TB, in *Instance) *Instance {
	t.Helper()
	if in.dir == "" {
		in.dir = t.TempDir()
	}
	in.logPath = filepath.Join(in.dir, in.kind+".log")
	t.Cleanup(func() {
		in.Kill()
		if t.Failed() {
			t.Logf("services: output of the test's %s:\n%s", in.kind, in.logTail())
		}
	})
	in.mu.Lock()
	defer in.mu.Unlock()
	var err error
	for range 3 {
		if in.port, err = freePort(); err != nil {
			t.Fatalf("services: no free loopback port for %s: %v", in.kind, err)
		}
		if err = in.run(time.Now().Add(startTimeout)); !errors.Is(err, errExited) {
			break
		}
	}
	if err == nil {
		return in
	}
	t.Fatalf("services: %s did not start: %v\n%s", in.kind, err, in.logTail())
	return nil
}

// errExited is what run returns when the server exits before it answers.
var errExited = errors.New("exited before it answered")

// run starts the server on in.port and waits until it answers or the
// deadline passes, when it kills it. The caller holds in.mu.
func (in *Instance) run(deadline time.Time) error {
	log, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(in.bin, in.args(in.dir, in.port)...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that Kill also kills what the server forked;
	// killed with the test binary, so that a test that times out leaves no
	// server behind. (Linux sends Pdeathsig when the thread that started the
	// server exits; the Go runtime ends a thread only when a goroutine exits
	// locked to it, which the tests do not do.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: in.cred}
	err = cmd.Start()
	_ = log.Close() // the server has its own copy
	if err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go p.wait()
	in.proc = p
	for {
		if p.exited() {
			in.proc = nil
			return fmt.Errorf("%w (%v)", errExited, p.err)
		}
		if in.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			in.kill()
			return errors.New("no answer on " + in.addr() + " within " + startTimeout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether a connection to the server succeeds and its probe
// passes.
func (in *Instance) ready() bool {
	c, err := net.DialTimeout("tcp", in.addr(), 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	return in.probe(c) == nil
}

// Addr returns the server's address, such as "127.0.0.1:41234". It stays
// the same over restarts.
func (in *Instance) Addr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.addr()
}

func (in *Instance) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(in.port)) }

// URL returns the URL a client connects with: redis://127.0.0.1:PORT/0,
// nats://127.0.0.1:PORT or postgres://postgres@127.0.0.1:PORT/postgres.
func (in *Instance) URL() string { return in.url(in.Addr()) }

// PID returns the server's process ID, or 0 when it does not run.
func (in *Instance) PID() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.proc == nil || in.proc.exited() {
		return 0
	}
	return in.proc.cmd.Process.Pid
}

// Running reports whether the server process runs: it is false after Kill
// or Stop, and after the server exited by itself.
func (in *Instance) Running() bool { return in.PID() != 0 }

// Kill kills the server with SIGKILL, as a crash would, and returns once it
// exited and its port is free. It does nothing when the server does not run.
func (in *Instance) Kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.kill()
}

// kill is Kill for a caller that holds in.mu.
func (in *Instance) kill() {
	p := in.proc
	if p == nil {
		return
	}
	in.proc = nil
	if !p.exited() {
		// The whole group: a server's forked children die with it.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// Stop asks the server to shut down as an operator would (SIGTERM for
// Redis; SIGINT for NATS and PostgreSQL, their clean and fast shutdown) and
// waits for it to exit, killing it after five seconds. It returns nil when
// the server exited cleanly or did not run, and otherwise how it exited.
func (in *Instance) Stop() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	p := in.proc
	if p == nil {
		return nil
	}
	if !p.exited() {
		_ = p.cmd.Process.Signal(in.stopSig)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		in.kill()
		return errors.New("services: " + in.kind + " did not exit within " + stopTimeout.String() + " of " + in.stopSig.String())
	}
	in.proc = nil
	return p.err
}

// Restart kills the server if it runs and starts it again on the same
// port, as an operator restarting a broker would. It retries for a while
// when the server cannot bind the port yet, and fails t when the server
// does not answer. Data the server kept in memory is gone; PostgreSQL keeps
// its data directory.
func (in *Instance) Restart(t testing.TB) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.kill()
	deadline := time.Now().Add(startTimeout)
	for {
		err := in.run(deadline)
		if err == nil {
			return
		}
		if !errors.Is(err, errExited) || time.Now().After(deadline) {
			t.Fatalf("services: %s did not restart on %s: %v\n%s", in.kind, in.addr(), err, in.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail returns the last few kilobytes of the server's output.
func (in *Instance) logTail() string {
	const max = 4 << 10
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// freePort returns a loopback TCP port that nothing listens on now. The
// kernel picks it from the ephemeral range, so it is never a shared
// server's port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinary returns the path of the server binary name, looked up on PATH and
// then in dirs. When it is missing it skips t, or fails it under CI=true,
// saying which Debian package installs it.
func findBinary(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range append(dirs, "/usr/sbin", "/usr/local/bin", "/usr/local/sbin") {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	unavailable(t, "this test runs its own "+name+", which is not installed (apt-get install "+pkg+")")
	return ""
}

// unavailable skips t saying msg, or fails it under CI=true, since CI must
// not pass by skipping.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
}
