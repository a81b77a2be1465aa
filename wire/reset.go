package wire

import (
	"fmt"
	"maps"
	"reflect"
	"unsafe"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/ident"
)

// Reset returns a fresh copy of e for emitting again, as abxbus's
// event_reset does: a new value of the same Go type with the same payload (a
// shallow copy of every field but the embedded event), a new UUIDv7
// event_id, status pending, no started or completed time, no result rows
// and no pending-bus count. event_type, event_version, the config fields,
// event_result_type, event_parent_id, event_emitted_by_handler_id,
// event_path and event_created_at are kept, as are wire fields the event
// carried in from another runtime. e itself is not modified.
//
// Because event_path is kept, emitting the copy on a bus already in its
// path is a no-op: that is what stops bridges echoing events back.
func Reset(e engine.Eventer) (engine.Eventer, error) {
	// event_reset is RESET-1..4; the kept path makes the re-emit a no-op
	// (EMIT-8, RESET-4).
	core := engine.Bind(e)
	if core == nil {
		return nil, fmt.Errorf("%w: nil event", ErrUnsupportedType)
	}
	st := engine.StateOf(core)
	fresh := resetState(&st)
	fresh.Fields = maps.Clone(st.Fields)
	fresh.Extra = maps.Clone(st.Extra)
	rt := reflect.TypeOf(e)
	if rt == reflect.TypeFor[*engine.Event]() {
		c := new(engine.Event)
		if err := engine.Restore(c, c, &fresh); err != nil {
			return nil, err
		}
		return c, nil
	}
	codec, err := codecFor(rt.Elem())
	if err != nil {
		return nil, err
	}
	nv := reflect.New(rt.Elem())
	src, dst := reflect.ValueOf(e).UnsafePointer(), nv.UnsafePointer()
	for _, f := range codec.copyFs {
		to := reflect.NewAt(f.t, unsafe.Add(dst, f.off)).Elem()
		to.Set(reflect.NewAt(f.t, unsafe.Add(src, f.off)).Elem())
	}
	outer := nv.Interface().(engine.Eventer)
	if err := engine.Restore(engine.Core(outer), outer, &fresh); err != nil {
		return nil, err
	}
	return outer, nil
}

// resetState returns what event_reset keeps of st (RESET-1..4): a new
// UUIDv7, status pending, no times, rows or pending count; the payload
// maps are shared with st.
func resetState(st *engine.EventState) engine.EventState {
	return engine.EventState{
		Meta:      st.Meta,
		ID:        ident.NewV7(),
		Type:      st.Type,
		Version:   st.Version,
		Status:    engine.StatusPending,
		CreatedAt: st.CreatedAt,
		ParentID:  st.ParentID,
		EmittedBy: st.EmittedBy,
		Path:      st.Path,

		Timeout:            st.Timeout,
		SlowTimeout:        st.SlowTimeout,
		HandlerTimeout:     st.HandlerTimeout,
		HandlerSlowTimeout: st.HandlerSlowTimeout,
		Concurrency:        st.Concurrency,
		HandlerConcurrency: st.HandlerConcurrency,
		Completion:         st.Completion,

		Fields: st.Fields,
		Extra:  st.Extra,
	}
}
