package wire_test

import (
	"encoding/json"
	"testing"

	"github.com/ringbus/ringbus/api"
	"github.com/ringbus/ringbus/engine"
	"github.com/ringbus/ringbus/wire"
)

// BenchOrder is the typical event of the benchmarks: five payload fields,
// a string result, one result row.
type BenchOrder struct {
	api.Event[string]
	OrderID  string  `json:"order_id"`
	Total    float64 `json:"total"`
	Quantity int     `json:"quantity"`
	Customer string  `json:"customer"`
	Paid     bool    `json:"paid"`
}

func init() { mustDeclare(wire.DeclareFor[BenchOrder, string](engine.TypeOptions{})) }

const benchJSON = `{"event_type":"BenchOrder","event_version":"0.0.1","event_timeout":null,"event_slow_timeout":null,"event_concurrency":null,"event_handler_timeout":null,"event_handler_slow_timeout":null,"event_handler_concurrency":null,"event_handler_completion":null,"event_blocks_parent_completion":false,"event_result_type":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"},"event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32","event_path":["ShopBus#aaaa"],"event_parent_id":null,"event_emitted_by_handler_id":null,"event_pending_bus_count":0,"event_created_at":"2026-11-26T18:43:05.608435292Z","event_status":"completed","event_started_at":"2026-11-26T18:43:05.609944814Z","event_completed_at":"2026-11-26T18:43:05.613467754Z","order_id":"o-1","total":9.5,"quantity":3,"customer":"Ada Lovelace","paid":true,"event_results":{"8a0347da-bf30-5b24-9255-f7047adde7f0":{"id":"01a2192b-1d09-75ce-a4c9-1aa7a48232c1","status":"completed","event_id":"01a2192b-1d08-77c5-8198-7b710fb90c32","handler_id":"8a0347da-bf30-5b24-9255-f7047adde7f0","handler_name":"orders.save","handler_file_path":null,"handler_timeout":null,"handler_slow_timeout":null,"handler_registered_at":"2026-11-26T18:43:05.607599048Z","handler_event_pattern":"BenchOrder","eventbus_id":"018f8e40-1234-7000-8000-00000000aaaa","eventbus_name":"ShopBus","started_at":"2026-11-26T18:43:05.609944814Z","completed_at":"2026-11-26T18:43:05.612753303Z","result":"saved","error":null,"event_children":[]}}}`

// stdEvent mirrors the same JSON for the encoding/json baseline.
type stdEvent struct {
	EventType               string            `json:"event_type"`
	EventVersion            string            `json:"event_version"`
	EventTimeout            *float64          `json:"event_timeout"`
	EventSlowTimeout        *float64          `json:"event_slow_timeout"`
	EventConcurrency        *string           `json:"event_concurrency"`
	EventHandlerTimeout     *float64          `json:"event_handler_timeout"`
	EventHandlerSlowTimeout *float64          `json:"event_handler_slow_timeout"`
	EventHandlerConcurrency *string           `json:"event_handler_concurrency"`
	EventHandlerCompletion  *string           `json:"event_handler_completion"`
	EventBlocks             bool              `json:"event_blocks_parent_completion"`
	EventResultType         json.RawMessage   `json:"event_result_type"`
	EventID                 string            `json:"event_id"`
	EventPath               []string          `json:"event_path"`
	EventParentID           *string           `json:"event_parent_id"`
	EventEmittedBy          *string           `json:"event_emitted_by_handler_id"`
	EventPendingBusCount    int               `json:"event_pending_bus_count"`
	EventCreatedAt          string            `json:"event_created_at"`
	EventStatus             string            `json:"event_status"`
	EventStartedAt          *string           `json:"event_started_at"`
	EventCompletedAt        *string           `json:"event_completed_at"`
	OrderID                 string            `json:"order_id"`
	Total                   float64           `json:"total"`
	Quantity                int               `json:"quantity"`
	Customer                string            `json:"customer"`
	Paid                    bool              `json:"paid"`
	EventResults            map[string]stdRow `json:"event_results,omitempty"`
}

type stdRow struct {
	ID                  string   `json:"id"`
	Status              string   `json:"status"`
	EventID             string   `json:"event_id"`
	HandlerID           string   `json:"handler_id"`
	HandlerName         string   `json:"handler_name"`
	HandlerFilePath     *string  `json:"handler_file_path"`
	HandlerTimeout      *float64 `json:"handler_timeout"`
	HandlerSlowTimeout  *float64 `json:"handler_slow_timeout"`
	HandlerRegisteredAt string   `json:"handler_registered_at"`
	HandlerEventPattern string   `json:"handler_event_pattern"`
	EventbusID          string   `json:"eventbus_id"`
	EventbusName        string   `json:"eventbus_name"`
	StartedAt           *string  `json:"started_at"`
	CompletedAt         *string  `json:"completed_at"`
	Result              any      `json:"result"`
	Error               any      `json:"error"`
	EventChildren       []string `json:"event_children"`
}

// BenchmarkCodec measures encoding plus decoding of the typical event, with
// this package (on sonic) and with encoding/json on a mirror struct as the
// baseline, in both writer modes.
func BenchmarkCodec(b *testing.B) {
	ev, err := wire.Unmarshal([]byte(benchJSON))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []wire.Mode{wire.Upstream, wire.Compat242} {
		enc := wire.Encoder{Mode: mode}
		b.Run(mode.String()+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				out, err := enc.Append(buf[:0], ev)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := wire.Unmarshal(out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode.String()+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			var se stdEvent
			if err := json.Unmarshal([]byte(benchJSON), &se); err != nil {
				b.Fatal(err)
			}
			if mode == wire.Compat242 {
				se.EventResults = nil
			}
			for b.Loop() {
				out, err := json.Marshal(&se)
				if err != nil {
					b.Fatal(err)
				}
				var back stdEvent
				if err := json.Unmarshal(out, &back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode and BenchmarkDecode split the Upstream round trip.
func BenchmarkEncode(b *testing.B) {
	ev, err := wire.Unmarshal([]byte(benchJSON))
	if err != nil {
		b.Fatal(err)
	}
	enc := wire.Encoder{Mode: wire.Upstream}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Append(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(benchJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}
