package ident_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbus/ringbus/ident"
)

// vectorsDir holds the wire vectors written by the official TypeScript
// package (testdata/vectors at the repository root).
const vectorsDir = "../testdata/vectors"

// loadVectors returns the decoded JSON of every vector file.
func loadVectors(t *testing.T) map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no vectors in %s", vectorsDir)
	}
	out := make(map[string]any, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = v
	}
	return out
}

// idKeys are the keys whose string values are UUIDs on the wire (WIRE-3).
var idKeys = map[string]bool{
	"id": true, "event_id": true, "event_parent_id": true, "eventbus_id": true,
	"handler_id": true, "event_emitted_by_handler_id": true,
}

// walkVectors calls fn for every object in v, recursively.
func walkVectors(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, x := range v {
			walkVectors(x, fn)
		}
	case []any:
		for _, x := range v {
			walkVectors(x, fn)
		}
	}
}

func TestVectorsIDsAndTimestamps(t *testing.T) {
	var ids, stamps, handlers int
	for name, v := range loadVectors(t) {
		walkVectors(v, func(obj map[string]any) {
			for k, x := range obj {
				s, ok := x.(string)
				switch {
				case !ok:
					if list, isList := x.([]any); isList && k == "event_children" {
						for _, c := range list {
							cs, _ := c.(string)
							if _, err := ident.ParseUUID(cs); err != nil {
								t.Errorf("%s: event_children: %v", name, err)
							}
							ids++
						}
					}
				case idKeys[k]:
					u, err := ident.ParseUUID(s)
					if err != nil {
						t.Errorf("%s: %s: %v", name, k, err)
					} else if u.String() != s {
						t.Errorf("%s: %s: %q is not canonical (%s)", name, k, s, u)
					}
					ids++
				case strings.HasSuffix(k, "_at"):
					ts, err := ident.ParseTime(s)
					if err != nil {
						t.Errorf("%s: %s: %v", name, k, err)
					} else if ts.String() != s {
						t.Errorf("%s: %s: %q is not canonical (%s)", name, k, s, ts)
					}
					stamps++
				}
			}
			// Result rows carry the handler metadata that its id is made of.
			if hid, ok := obj["handler_id"].(string); ok {
				file, _ := obj["handler_file_path"].(string)
				got := ident.HandlerID(str(obj["eventbus_id"]), str(obj["handler_name"]), file,
					str(obj["handler_registered_at"]), str(obj["handler_event_pattern"]))
				if got.String() != hid {
					t.Errorf("%s: HandlerID(%s/%s) = %s, want %s", name, obj["eventbus_name"], obj["handler_name"], got, hid)
				}
				handlers++
			}
		})
	}
	if ids == 0 || stamps == 0 || handlers == 0 {
		t.Errorf("found %d ids, %d timestamps, %d handler rows; want some of each", ids, stamps, handlers)
	}
	t.Logf("checked %d ids, %d timestamps, %d handler ids", ids, stamps, handlers)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
