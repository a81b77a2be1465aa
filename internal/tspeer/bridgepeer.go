package tspeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Role is what a bridge peer does with its bridge.
type Role string

// The roles of a bridge peer (see interop/ts/bridge.mjs).
const (
	// Listen prints every event that reaches its app bus from the bridge,
	// until it has Count of them.
	Listen Role = "listen"
	// Send emits the manifest's events on its app bus, whose outbound
	// wiring hands them to the bridge, and exits once the bridge sent them.
	Send Role = "send"
	// Respond answers every AskType event from the bridge with a ReplyType
	// event emitted as the ask's child, with the field "answer" set to
	// "re: " and the ask's field "question"; its outbound wiring publishes
	// the reply (and, as TypeScript peers do, re-publishes the ask). It
	// exits after Count answers.
	Respond Role = "respond"
	// Ask emits the manifest's events like Send, then waits for Count
	// ReplyType events from the bridge (by default one per event sent).
	Ask Role = "ask"
)

// BridgeManifest says which bridge of the TypeScript package a BridgePeer
// runs and what it does with it.
type BridgeManifest struct {
	// Bridge is the kind: "jsonl", "sqlite", "http", "socket", "redis",
	// "nats" or "postgres".
	Bridge string
	// Args are the bridge constructor's arguments as the TypeScript
	// constructor takes them, such as {path, 0.01} for JSONL or
	// {map[string]any{"send_to": url, "listen_on": url}} for HTTP.
	Args []any
	// SendArgs, when set, are the arguments of a second bridge of the same
	// kind that the peer sends with (the first only listens): only one
	// process can listen on a unix socket path, so request/reply over
	// sockets takes a path per direction.
	SendArgs []any
	// Role is what the peer does.
	Role Role
	// BusName names the peer's app bus (default "TSPeer").
	BusName string
	// Events are the events a Send or Ask peer emits, as event JSON.
	Events []json.RawMessage
	// AskType is the event type a Respond peer answers (default "PeerAsk").
	AskType string
	// ReplyType is the type of a Respond peer's replies and of the events an
	// Ask peer waits for (default "PeerReply").
	ReplyType string
	// Count is how many events a Listen peer receives, a Respond peer
	// answers or an Ask peer awaits before it exits. Zero means the
	// default (one, one, and one per event sent); a negative count runs
	// the peer until BridgePeer.Stop, or until Timeout, after which it
	// exits successfully.
	Count int
	// Timeout bounds the peer's life from its ready line on (default
	// 30 s); a peer that has not finished by then reports an error and
	// exits with status 2.
	Timeout time.Duration
	// NoWorkarounds runs the TypeScript package exactly as it is. By
	// default the peer works around three faults that have nothing to do
	// with the wire format (see bridge.mjs): a Redis URL gets the ioredis
	// option disableClientInfo=true, without which a subscription is lost
	// now and then at start; an SQLite bridge reads the table's columns
	// again before adding one, without which its writes fail for good once
	// another process has added a column since it started; and an SQLite
	// bridge's connection waits up to 5 s for a lock (busy_timeout), without
	// which a write fails at once with "database is locked" while another
	// process writes the file.
	NoWorkarounds bool
}

// MarshalJSON writes the manifest as bridge.mjs reads it.
func (m BridgeManifest) MarshalJSON() ([]byte, error) {
	var fixes *bool
	if m.NoWorkarounds {
		fixes = new(bool)
	}
	return json.Marshal(struct {
		Bridge    string            `json:"bridge"`
		Args      []any             `json:"args"`
		SendArgs  []any             `json:"send_args,omitempty"`
		Role      Role              `json:"role"`
		BusName   string            `json:"bus_name,omitempty"`
		Events    []json.RawMessage `json:"events,omitempty"`
		AskType   string            `json:"ask_type,omitempty"`
		ReplyType string            `json:"reply_type,omitempty"`
		Count     int               `json:"count,omitempty"`
		TimeoutMS int64             `json:"timeout_ms,omitempty"`
		Fixes     *bool             `json:"workarounds,omitempty"`
	}{m.Bridge, m.Args, m.SendArgs, m.Role, m.BusName, m.Events, m.AskType, m.ReplyType, m.Count, m.Timeout.Milliseconds(), fixes})
}

// Kind is the kind of a line a bridge peer prints.
type Kind string

// The kinds of lines a bridge peer prints, besides its ready line and
// errors.
const (
	// Event: an event from the bridge as the app bus's handler saw it.
	Event Kind = "event"
	// Sending: an event a Send or Ask peer is about to emit, as revived
	// from the manifest (with the TypeScript defaults filled in and the
	// peer's own event_id).
	Sending Kind = "sending"
	// Sent: the number of events that went through the bridge.
	Sent Kind = "sent"
	// Replied: a reply a Respond peer emitted, right after emitting it.
	Replied Kind = "replied"
	// Reply: a ReplyType event from the bridge, at an Ask peer.
	Reply Kind = "reply"
)

// ErrTimeout is returned by BridgePeer's methods when the peer printed
// nothing of the kind asked for, or did not exit, in time.
var ErrTimeout = errors.New("tspeer: timed out")

// ErrExited is returned by BridgePeer.Next when the peer exited without
// printing another line of the kind asked for.
var ErrExited = errors.New("tspeer: bridge peer exited")

// BridgePeer is a running bridge peer of the TypeScript package: a node
// process running interop/ts/bridge.mjs on a BridgeManifest. Its methods
// are safe for concurrent use.
type BridgePeer struct {
	// BusLabel is the label of the peer's app bus (name#last 4 hex of its
	// id), which it appends to event_path.
	BusLabel string
	// BridgeLabel is the label of the inbound bus of the peer's listening
	// bridge, empty for a Send peer.
	BridgeLabel string

	manifest BridgeManifest
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   limitedBuffer
	done     chan struct{} // closed once stdout is drained and the process reaped

	mu      sync.Mutex
	lines   map[Kind][]json.RawMessage
	errors  []string // the peer's {"error"} lines
	changed chan struct{}
	exitErr error // set before done is closed
}

// readyTimeout bounds how long a peer may take to start listening.
const readyTimeout = 60 * time.Second

// StartBridgePeer starts a bridge peer running manifest, with node, or
// Node 22 for the SQLite bridge, and returns once the peer is listening
// (a Send peer: once its bridge is built). It fails t when the peer exits
// or stays silent before that. The peer is killed when t ends, and its
// stderr goes to t's log if t failed.
func StartBridgePeer(t testing.TB, manifest BridgeManifest) *BridgePeer {
	t.Helper()
	p, err := startBridgePeer(t, manifest)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startBridgePeer is StartBridgePeer returning the failure.
func startBridgePeer(t testing.TB, manifest BridgeManifest) (*BridgePeer, error) {
	t.Helper()
	var node, dir string
	if manifest.Bridge == "sqlite" {
		node, dir = Node22(t)
	} else {
		node, dir = Node(t)
	}
	p := &BridgePeer{
		manifest: manifest,
		done:     make(chan struct{}),
		lines:    make(map[Kind][]json.RawMessage),
		changed:  make(chan struct{}),
	}
	// The peer exits when its stdin closes, so it does not outlive a test
	// binary that is killed before its cleanups run.
	p.cmd = command(context.Background(), t, node, dir, "bridge.mjs", manifest)
	p.cmd.Stderr = &p.stderr
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("tspeer: starting the %s peer: %w", manifest.Bridge, err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s %s peer: %v; stderr:\n%s", manifest.Bridge, manifest.Role, p.exitError(), p.stderr.Bytes())
		}
	})
	raw, err := p.NextOf("ready", readyTimeout)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("tspeer: the %s %s peer never got ready: %w; stderr:\n%s", manifest.Bridge, manifest.Role, err, p.stderr.Bytes())
	}
	var ready struct {
		BusLabel    string `json:"bus_label"`
		BridgeLabel string `json:"bridge_label"`
	}
	if err := json.Unmarshal(raw, &ready); err != nil {
		return nil, fmt.Errorf("tspeer: ready line %s: %w", raw, err)
	}
	p.BusLabel, p.BridgeLabel = ready.BusLabel, ready.BridgeLabel
	return p, nil
}

// read files every line the peer prints under its kind until stdout
// closes, then reaps the process.
func (p *BridgePeer) read(stdout io.Reader) {
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			p.file(line)
		}
		if err != nil {
			break
		}
	}
	werr := p.cmd.Wait()
	p.mu.Lock()
	errs := []error{werr}
	for _, msg := range p.errors {
		errs = append(errs, errors.New(msg))
	}
	p.exitErr = errors.Join(errs...)
	p.notifyLocked()
	p.mu.Unlock()
	close(p.done)
}

// file keeps one line: an object with one key, the kind ("ready" counts as
// one), whose value is the line's data.
func (p *BridgePeer) file(line []byte) {
	var obj map[string]json.RawMessage
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := json.Unmarshal(line, &obj); err != nil {
		p.errors = append(p.errors, "unparsable line: "+string(line))
		return
	}
	for k, v := range obj {
		switch k {
		case "error":
			var msg string
			_ = json.Unmarshal(v, &msg)
			p.errors = append(p.errors, msg)
		case "ready":
			p.lines["ready"] = append(p.lines["ready"], line)
		case "bus_label", "bridge_label":
		default:
			p.lines[Kind(k)] = append(p.lines[Kind(k)], v)
		}
	}
	p.notifyLocked()
}

// notifyLocked wakes every waiter; p.mu is held.
func (p *BridgePeer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Next returns the next event the peer received from its bridge (the
// Event lines, in order), waiting up to timeout for it. It returns an
// error matching ErrTimeout when none came in time, or ErrExited when the
// peer exited without another.
func (p *BridgePeer) Next(timeout time.Duration) (json.RawMessage, error) {
	return p.NextOf(Event, timeout)
}

// NextReply returns the next reply an Ask peer received, as Next does.
func (p *BridgePeer) NextReply(timeout time.Duration) (json.RawMessage, error) {
	return p.NextOf(Reply, timeout)
}

// NextOf returns the data of the next line of kind the peer printed, in
// order, waiting up to timeout for it, as Next does.
func (p *BridgePeer) NextOf(kind Kind, timeout time.Duration) (json.RawMessage, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if q := p.lines[kind]; len(q) > 0 {
			p.lines[kind] = q[1:]
			p.mu.Unlock()
			return q[0], nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-p.done:
			p.mu.Lock()
			empty := len(p.lines[kind]) == 0
			p.mu.Unlock()
			if empty {
				return nil, fmt.Errorf("%w before another %q line (%s %s peer: %v)", ErrExited, kind, p.manifest.Bridge, p.manifest.Role, p.exitError())
			}
		case <-changed:
		case <-timer.C:
			return nil, fmt.Errorf("%w after %v waiting for a %q line from the %s %s peer", ErrTimeout, timeout, kind, p.manifest.Bridge, p.manifest.Role)
		}
	}
}

// Wait waits up to timeout for the peer to exit and returns nil when it
// exited with status 0 and reported no error, else what went wrong. A peer
// still running after timeout is killed and Wait returns an error matching
// ErrTimeout.
func (p *BridgePeer) Wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitError()
	case <-timer.C:
		p.kill()
		return fmt.Errorf("%w after %v waiting for the %s %s peer to exit", ErrTimeout, timeout, p.manifest.Bridge, p.manifest.Role)
	}
}

// Stop asks the peer to finish as if it had reached its Count, then waits
// for it like Wait. A peer run with a negative Count stays up until Stop,
// for a test that sends it more (or whose other side may still send to
// it) after the exchange it checks: it then exits as soon as its bus is
// idle, with status 0 unless something went wrong.
func (p *BridgePeer) Stop(timeout time.Duration) error {
	// A peer that has exited already does not read it; Wait tells.
	_, _ = io.WriteString(p.stdin, "stop\n")
	return p.Wait(timeout)
}

// Stderr returns the first 64 KiB the peer wrote to stderr.
func (p *BridgePeer) Stderr() []byte { return p.stderr.Bytes() }

// kill ends the process unless it has exited and waits until it is reaped
// and its output read.
func (p *BridgePeer) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Kill()
	<-p.done
}

// exitError is how the process ended: nil for status 0 without an error
// line; before the exit, the error lines so far.
func (p *BridgePeer) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.exitErr
	default:
	}
	if len(p.errors) > 0 {
		return fmt.Errorf("still running, reported %q", p.errors)
	}
	return nil
}
