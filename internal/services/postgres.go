package services

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// StartPostgres starts a PostgreSQL server of t's own on a free loopback
// port, with a new cluster in a temporary directory (trust authentication,
// superuser postgres, database postgres, fsync off), and returns once it
// accepts a session. The test's cleanup kills it and removes the cluster.
// initdb takes about a second, so a test needs this only when it stops or
// restarts the server; others use the shared one (Require).
//
// Run as root, the server runs as the user postgres, since PostgreSQL
// refuses to run as root. When the binaries or that user are missing it
// skips t, or fails it under CI=true.
func StartPostgres(t testing.TB) *Instance {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) }) // the newest first
	bin := findBinary(t, "postgres", "postgresql", dirs...)
	initdb := findBinary(t, "initdb", "postgresql", filepath.Dir(bin))
	cred, dir := postgresUser(t)
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale", "C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("services: initdb for the test's postgres: %v\n%s", err, out)
	}
	return start(t, &Instance{
		kind: "postgres",
		bin:  bin,
		dir:  dir,
		args: func(dir string, port int) []string {
			return []string{
				"-D", data, "-p", strconv.Itoa(port),
				"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir,
				"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			}
		},
		probe:   postgresSession,
		url:     func(addr string) string { return "postgres://postgres@" + addr + "/postgres?sslmode=disable" },
		stopSig: syscall.SIGINT,
		cred:    cred,
	})
}

// pgMajor returns the major version in a path such as
// /usr/lib/postgresql/15/bin, or 0.
func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// postgresUser returns the user the server runs as (nil for the test's
// own) and a directory that user owns, removed when t ends. As root the
// user is postgres, and the directory is not under t.TempDir, whose
// folders only root may enter.
func postgresUser(t testing.TB) (*syscall.Credential, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, t.TempDir()
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		unavailable(t, "this test runs its own postgres, which refuses to run as root, and there is no user postgres to run it as: "+err.Error())
		return nil, ""
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("services: user postgres: %v", err)
	}
	dir, err := os.MkdirTemp("", "ringbus-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, dir
}

// postgresSession says whether the server on c accepts a session as user
// postgres: it answers the startup message with messages up to
// ReadyForQuery, where a server that is still starting answers with an
// error.
func postgresSession(c net.Conn) error {
	body := []byte("\x00\x03\x00\x00user\x00postgres\x00database\x00postgres\x00\x00") // protocol 3.0
	msg := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	if _, err := c.Write(append(msg, body...)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	var head [5]byte // type, length
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(head[1:])) - 4
		if n < 0 {
			return errors.New("postgres sent a malformed message")
		}
		if _, err := r.Discard(n); err != nil {
			return err
		}
		switch head[0] {
		case 'Z':
			_, err := c.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
			return err
		case 'E':
			return errors.New("postgres refused the session")
		}
	}
}
