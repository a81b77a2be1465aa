package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// writer is the one goroutine that sends: it takes what is queued, up to
// the batch size, and hands it to the transport in order, retrying a
// failed send with backoff until Close gives up.
func (b *Bridge) writer() {
	defer close(b.writerDone)
	items := make([]outItem, 0, b.cfg.batchSize)
	msgs := make([]Message, 0, b.cfg.batchSize)
	for {
		var it outItem
		select {
		case it = <-b.queue:
		case <-b.drain:
			b.drainAll(items[:0], msgs[:0])
			return
		}
		items = append(items[:0], it)
	fill:
		for len(items) < b.cfg.batchSize {
			select {
			case it = <-b.queue:
				items = append(items, it)
			default:
				break fill
			}
		}
		b.sendItems(items, msgs)
		clear(items) // let the sent buffers go
	}
}

// drainAll sends what is left in the queue once Close stopped new Emits.
func (b *Bridge) drainAll(items []outItem, msgs []Message) {
	for {
		items = items[:0]
	fill:
		for len(items) < b.cfg.batchSize {
			select {
			case it := <-b.queue:
				items = append(items, it)
			default:
				break fill
			}
		}
		if len(items) == 0 {
			return
		}
		b.sendItems(items, msgs)
	}
}

// sendItems sends the messages of items, resolving Flush markers in
// order: a marker completes once everything before it is sent.
func (b *Bridge) sendItems(items []outItem, msgs []Message) {
	start := 0
	for i := 0; i <= len(items); i++ {
		if i < len(items) && !items[i].mark {
			continue
		}
		b.sendRun(items[start:i], msgs)
		if i < len(items) {
			items[i].done <- nil
		}
		start = i + 1
	}
}

// sendRun sends a run of message items (no markers).
func (b *Bridge) sendRun(items []outItem, msgs []Message) {
	if len(items) == 0 {
		return
	}
	msgs = msgs[:0]
	for i := range items {
		msgs = append(msgs, items[i].msg)
	}
	off := 0
	backoff := b.cfg.retryMin
	for off < len(msgs) {
		n, err := b.t.Send(b.runCtx, msgs[off:])
		if n > len(msgs)-off {
			n = len(msgs) - off
		}
		b.settle(items[off:off+n], nil)
		off += n
		if err == nil {
			if off == len(msgs) {
				break
			}
			if n > 0 {
				continue // a transport that sent part without an error: go on
			}
			err = errors.New("transport sent nothing")
		}
		if b.runCtx.Err() != nil {
			lost := len(msgs) - off
			b.report(&LostError{Count: lost, Err: fmt.Errorf("bridge %s closed before sending: %w", b.name, err)})
			b.settle(items[off:], ErrClosed)
			break
		}
		if isPermanent(err) {
			b.stats.sendErrors.Add(1)
			b.report(&LostError{Count: 1, Err: fmt.Errorf("%w: bridge %s: %w", ErrSend, b.name, err)})
			b.settle(items[off:off+1], fmt.Errorf("%w: %w", ErrSend, err))
			off++
			continue
		}
		b.stats.sendErrors.Add(1)
		b.report(fmt.Errorf("%w: bridge %s (retrying in %v): %w", ErrSend, b.name, backoff, err))
		if !sleepCtx(b.runCtx, backoff) {
			continue // cancelled: the next Send fails at once and ends the run
		}
		backoff = min(backoff*2, b.cfg.retryMax)
	}
	for i := range items {
		bufPool.Put(items[i].buf)
	}
	clear(msgs)
}

// settle counts items as sent (err nil) or failed and tells their waiters.
func (b *Bridge) settle(items []outItem, err error) {
	if err == nil {
		b.stats.sent.Add(uint64(len(items)))
	}
	for i := range items {
		if items[i].done != nil {
			items[i].done <- err
		}
	}
}

// sleepCtx sleeps d or until ctx is done, reporting whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
