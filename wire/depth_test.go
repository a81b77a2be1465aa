package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// deepEvent is an event whose payload field x nests n-1 arrays, so that the
// event has n levels in all.
func deepEvent(n int) []byte {
	return []byte(`{"event_type":"Deep","event_timeout":null,"x":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
}

// Issue 9, 4.4: the decoder's nesting limit is DefaultMaxDepth levels
// (counting the event object), far above the old 512 and above sonic's
// own 4096, so deep documents TypeScript accepts are read and written back
// unchanged; one level more is ErrTooDeep.
func TestDecodeDeepNesting_WIRE1(t *testing.T) {
	for _, n := range []int{513, 5000, wire.DefaultMaxDepth} {
		in := deepEvent(n)
		ev, err := wire.Unmarshal(in)
		require.NoError(t, err, n)
		out, err := wire.Marshal(ev)
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(string(out), `"x":`+strings.Repeat("[", n-1)+strings.Repeat("]", n-1)+`}`), n)
		v := engine.Core(ev).Fields()["x"]
		for i := 0; i < n-2; i++ {
			a, ok := v.([]any)
			require.True(t, ok && len(a) == 1, "level %d", i)
			v = a[0]
		}
		assert.Equal(t, []any{}, v)
	}
	_, err := wire.Unmarshal(deepEvent(wire.DefaultMaxDepth + 1))
	require.ErrorIs(t, err, wire.ErrTooDeep)
	var de *wire.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "x", de.Field)

	// In a result row: the row and event_results count as levels.
	row := `,"result":` + strings.Repeat("[", 4999) + strings.Repeat("]", 4999)
	ev, err := wire.Unmarshal([]byte(upstreamRow("completed", row)))
	require.NoError(t, err)
	out := mustMarshal(t, wire.Encoder{Mode: wire.Upstream}, ev)
	assert.Contains(t, string(out), row)
}

// Issue 9, 4.4: Decoder.MaxDepth sets the limit; a value above
// MaxDepthLimit counts as MaxDepthLimit, so a hostile input nested far
// deeper is refused with ErrTooDeep instead of exhausting the stack.
func TestDecoderMaxDepth_WIRE1(t *testing.T) {
	d := wire.Decoder{MaxDepth: 10}
	_, err := d.Unmarshal(deepEvent(10))
	require.NoError(t, err)
	_, err = d.Unmarshal(deepEvent(11))
	require.ErrorIs(t, err, wire.ErrTooDeep)
	assert.False(t, errors.Is(err, wire.ErrMalformed), "too deep is its own error")

	huge := wire.Decoder{MaxDepth: 1 << 40}
	_, err = huge.Unmarshal(deepEvent(wire.MaxDepthLimit))
	require.NoError(t, err)
	_, err = huge.Unmarshal(deepEvent(3 * wire.MaxDepthLimit))
	require.ErrorIs(t, err, wire.ErrTooDeep)
	_, err = huge.Unmarshal([]byte(`{"event_type":"Deep","x":` + strings.Repeat(`{"a":`, 3*wire.MaxDepthLimit)))
	require.ErrorIs(t, err, wire.ErrTooDeep)
}
