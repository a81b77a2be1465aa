package wire_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringbus/ringbus/wire"
)

// FuzzDecodeEvent feeds arbitrary bytes to the decoder (seeded with the
// vectors and hand-written edge cases). The decoder must never panic, must
// fail only with a *DecodeError, and whatever it accepts must encode, and
// decode again to the same encoding (the codec reaches a fixed point after
// one round trip).
func FuzzDecodeEvent(f *testing.F) {
	dir := vectorsDir(f)
	files, _ := filepath.Glob(filepath.Join(dir, "0*.json"))
	if len(files) == 0 {
		f.Fatalf("no vectors in %s", dir)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{}`,
		`{"event_type":"WorkEvent","job":"x","event_results":[{"status":"error","error":"boom"}]}`,
		`{"event_type":"OrderPlaced","order_id":"a","total":1e2,"items":["\u00e9\ud83d\ude00"],"meta":{"a":1}}`,
		`{"event_type":"BenchOrder","quantity":-0,"total":1.5e-7,"paid":false,"customer":"\"\\\/\b\f\n\r\t"}`,
		`{"event_type":"Loose","event_timeout":0.000000001,"event_handler_slow_timeout":12345.678901234,"x":[[[{}]]]}`,
		`{"event_type":"Loose","event_results":{"8a0347da-bf30-5b24-9255-f7047adde7f0":{"status":"completed","result":{"nested":{"event_type":"X"}}}}}`,
		`{"event_type":"ChildEvent","step":1,"event_result_type":{"type":["string","null"],"required":["b","a"]}}`,
		`{"event_type":"SimpleEvent","nested":{"list":[1,2.50,null]},"extra":true}`,
	} {
		f.Add([]byte(s))
	}
	decoders := []wire.Decoder{{}, {Untyped: true, AllowUnknownEventFields: true}, {Untyped: true, RawFields: true}}
	enc := wire.Encoder{Mode: wire.Upstream}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range decoders {
			ev, err := d.Unmarshal(data)
			if err != nil {
				var de *wire.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error is not a *DecodeError: %T %v", err, err)
				}
				continue
			}
			out, err := enc.Marshal(ev)
			if err != nil {
				t.Fatalf("decoded event does not encode: %v\ninput: %q", err, data)
			}
			ev2, err := d.Unmarshal(out)
			if err != nil {
				t.Fatalf("own output does not decode: %v\ninput: %q\noutput: %s", err, data, out)
			}
			out2, err := enc.Marshal(ev2)
			if err != nil {
				t.Fatal(err)
			}
			ev3, err := d.Unmarshal(out2)
			if err != nil {
				t.Fatal(err)
			}
			out3, err := enc.Marshal(ev3)
			if err != nil {
				t.Fatal(err)
			}
			if string(out2) != string(out3) {
				t.Fatalf("no fixed point:\ninput: %q\nfirst:  %s\nsecond: %s", data, out2, out3)
			}
			if _, err := wire.Reset(ev); err != nil {
				t.Fatalf("reset: %v", err)
			}
		}
	})
}
