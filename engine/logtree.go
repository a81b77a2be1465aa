package engine

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ringbus/ringbus/ident"
)

// LogTree returns the bus history as a tree of events, their handler rows
// with timings and results, and the children each handler emitted. An empty
// history gives "(No events in history)". It logs nothing: print the string
// or log it yourself.
func (b *Bus) LogTree() string {
	hist := b.hist.snapshot()
	if len(hist) == 0 {
		return "(No events in history)"
	}
	inHist := make(map[*Event]bool, len(hist))
	for _, e := range hist {
		inHist[e] = true
	}
	var roots []*Event
	for _, e := range hist {
		p := e.Parent()
		if e.ParentID() == "" || e.ParentID() == e.ID() || p == nil || !inHist[p] {
			roots = append(roots, e)
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].CreatedTime() < roots[j].CreatedTime() })
	var sb strings.Builder
	seen := map[*Event]bool{}
	for i, e := range roots {
		writeEventLine(&sb, e, "", i == len(roots)-1, seen, hist)
	}
	// LOG-1 in Go: returned, not logged; the caller prints it.
	return strings.TrimRight(sb.String(), "\n")
}

func clock(t ident.Time) string {
	if t == 0 {
		return "--:--:--.---"
	}
	return t.Std().UTC().Format("15:04:05.000")
}

func writeEventLine(sb *strings.Builder, e *Event, indent string, last bool, seen map[*Event]bool, hist []*Event) {
	conn, childIndent := "├── ", indent+"│   "
	if last {
		conn, childIndent = "└── ", indent+"    "
	}
	sb.WriteString(indent + conn + e.Label() + " [" + clock(e.CreatedTime()))
	if c := e.CompletedTime(); c != 0 {
		fmt.Fprintf(sb, " (%.3fs)", time.Duration(c-e.CreatedTime()).Seconds())
	}
	sb.WriteString("]\n")
	if seen[e] {
		return
	}
	seen[e] = true
	rows := e.Rows()
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].StartedTime() < rows[j].StartedTime() })
	listed := map[*Event]bool{}
	for _, r := range rows {
		for _, c := range r.Children() {
			listed[c] = true
		}
	}
	var unmapped []*Event
	for _, h := range hist {
		if h.Parent() == e && !listed[h] {
			unmapped = append(unmapped, h)
		}
	}
	for i, r := range rows {
		rowLast := i == len(rows)-1 && len(unmapped) == 0
		writeRowLine(sb, r, childIndent, rowLast, seen, hist)
	}
	for i, c := range unmapped {
		writeEventLine(sb, c, childIndent, i == len(unmapped)-1, seen, hist)
	}
}

func writeRowLine(sb *strings.Builder, r *Result, indent string, last bool, seen map[*Event]bool, hist []*Event) {
	conn, childIndent := "├── ", indent+"│   "
	if last {
		conn, childIndent = "└── ", indent+"    "
	}
	icon := "⏳"
	switch r.Status() {
	case StatusCompleted:
		icon = "✅"
	case StatusError:
		icon = "❌"
	case StatusStarted:
		icon = "🏃"
	}
	sb.WriteString(indent + conn + icon + " " + r.Bus().Label() + "." + r.handler.Name() + "#" + r.handler.id.Suffix4())
	if s := r.StartedTime(); s != 0 {
		end := r.CompletedTime()
		if end == 0 {
			end = ident.Now()
		}
		fmt.Fprintf(sb, " [%s (%.3fs)]", clock(s), time.Duration(end-s).Seconds())
	}
	switch r.Status() {
	case StatusError:
		sb.WriteString(" ☠️ " + ErrorTypeName(r.Error()) + ": " + r.Error().Error())
	case StatusCompleted:
		sb.WriteString(" → " + FormatValue(r.Value()))
	}
	sb.WriteString("\n")
	children := r.Children()
	for i, c := range children {
		writeEventLine(sb, c, childIndent, i == len(children)-1, seen, hist)
	}
}

// FormatValue renders a handler result the way the log tree shows it,
// which is the way abxbus's log tree shows it (None for nil, an event by
// its label).
func FormatValue(v any) string {
	// LOG-4.
	switch x := v.(type) {
	case nil:
		return "None"
	case Eventer:
		return "Event(" + Core(x).Label() + ")"
	case string:
		return fmt.Sprintf("%q", x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(x)
	case map[string]any:
		return fmt.Sprintf("dict(%d items)", len(x))
	case []any:
		return fmt.Sprintf("list(%d items)", len(x))
	}
	return typeName(v) + "(...)"
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "None"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.Kind().String()
}
