//go:build unix

package wal_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/middleware/wal"
)

// killAfter is the number of acknowledged events after which the child
// tears its next long line and the parent kills it.
const killAfter = 200

// MW-13: a process killed with SIGKILL loses no event whose Wait returned
// under SyncEvery, and a torn last line is skipped with a report. The test
// binary runs itself as a child (killChild), which logs events to a WAL
// and prints each event's id once Wait has returned; after killAfter of
// them the child leaves half of a long line in the file and the parent
// SIGKILLs it while it is still emitting, then reads the WAL: every
// acknowledged id must be in it, the torn last line is reported once and
// skipped, and the other events replay into a bus.
func TestWALSurvivesSIGKILL_MW13(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kill.wal")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	emitted, acked := map[string]bool{}, map[string]bool{}
	killed, done := false, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		verb, id, _ := strings.Cut(sc.Text(), " ")
		id, _ = strings.CutSuffix(id, " big")
		switch verb {
		case "emit":
			emitted[id] = true
		case "ack":
			acked[id] = true
		case "done":
			done = true
		}
		if !killed && verb == "torn" {
			// SIGKILL, mid-stream: half of a 256 KiB line is in the file,
			// and other events may be in flight.
			require.NoError(t, cmd.Process.Kill())
			killed = true
		}
	}
	require.NoError(t, sc.Err())
	waitErr := cmd.Wait()
	require.False(t, done, "the child finished before it was killed; stderr: %s", stderr.String())
	require.True(t, killed, "the child died by itself; stderr: %s", stderr.String())
	var ee *exec.ExitError
	require.ErrorAs(t, waitErr, &ee)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "killed by SIGKILL: %v", waitErr)

	written, torn := map[string]bool{}, 0
	for e, err := range wal.Read(path) {
		if err != nil {
			var le *wal.LineError
			require.ErrorAs(t, err, &le)
			require.ErrorIs(t, err, wal.ErrTorn, "only the last line may be damaged")
			torn++
			continue
		}
		require.True(t, emitted[e.ID()], "a line of an event the child emitted")
		require.False(t, written[e.ID()], "one line per event")
		written[e.ID()] = true
	}
	require.Equal(t, 1, torn, "the line cut short is reported, once")
	missing := 0
	for id := range acked {
		if !written[id] {
			missing++
			t.Errorf("acknowledged event %s is not in the WAL", id)
		}
	}
	require.Zero(t, missing, "no acknowledged event is lost")

	bus := newBus(t, "KillReplay")
	var ran atomic.Int64
	_, err = api.On(bus, func(context.Context, *walOrder) (string, error) { ran.Add(1); return "", nil })
	require.NoError(t, err)
	rep, err := wal.Replay(ctx, path, bus, wal.WithInFlight(64))
	require.NoError(t, err)
	assert.Equal(t, len(written), rep.Replayed)
	assert.Equal(t, int64(len(written)), ran.Load())
	assert.Zero(t, rep.Corrupt)
	require.NotNil(t, rep.Torn, "Replay reports the torn line")
	assert.ErrorIs(t, rep.Torn, wal.ErrTorn)
	t.Logf("emitted %d", len(emitted))
	t.Logf("written %d, acknowledged %d, replayed %d, torn %d", len(written), len(acked), rep.Replayed, torn)
}
