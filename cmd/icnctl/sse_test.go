package main

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

func TestReadSSE(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []sseEvent
		err    error
	}{
		{"icnd's events", ": icn supervision events\n\nevent: supervision\ndata: {\"a\":1}\n\n: keepalive\n\nevent: dropped\ndata: {\"dropped\":2}\n\n",
			[]sseEvent{{"supervision", `{"a":1}`}, {"dropped", `{"dropped":2}`}}, io.EOF},
		{"CRLF", "event: x\r\ndata: 1\r\n\r\n", []sseEvent{{"x", "1"}}, io.EOF},
		{"data lines join", "data: a\ndata:b\ndata\n\n", []sseEvent{{"message", "a\nb\n"}}, io.EOF},
		{"one space only is stripped", "data:  two\n\n", []sseEvent{{"message", " two"}}, io.EOF},
		{"no data, no event", "event: x\n\nid: 3\nretry: 10\n\n", nil, io.EOF},
		{"name does not leak to the next event", "event: x\ndata: 1\n\ndata: 2\n\n", []sseEvent{{"x", "1"}, {"message", "2"}}, io.EOF},
		{"an event cut short is dropped", "data: 1\n\ndata: 2\n", []sseEvent{{"message", "1"}}, io.EOF},
		{"a partial line is dropped", "data: 1\n\ndata: 2", []sseEvent{{"message", "1"}}, io.EOF},
		{"line too long", "data: " + strings.Repeat("x", maxSSELine) + "\n\n", nil, errSSELineTooLong},
		{"event too large", strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", maxSSEData/1000+1) + "\n", nil, errSSEDataTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sseEvent
			err := readSSE(strings.NewReader(tt.stream), func(ev sseEvent) bool { got = append(got, ev); return true })
			if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
	// emit can stop the reader.
	n := 0
	err := readSSE(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(sseEvent) bool { n++; return false })
	if err != nil || n != 1 {
		t.Fatalf("stopped reader: %d events, %v", n, err)
	}
}

// FuzzReadSSE: whatever the stream holds, the reader ends with an error or
// EOF without panicking, keeps to its bounds, and whatever decodes as an
// event prints as one inert line.
func FuzzReadSSE(f *testing.F) {
	for _, seed := range []string{
		": icn supervision events\n\n",
		"event: supervision\ndata: {\"time\":\"2026-11-27T12:00:00Z\",\"path\":\"/icn/dag\",\"type\":\"killed\",\"reason\":\"panic\"}\n\n",
		"event: supervision\r\ndata: {\"time\":\"2026-11-27T12:00:00Z\",\"path\":\"/icn/dag\",\"type\":\"breaker\",\"from\":\"closed\",\"to\":\"open\",\"delay_ns\":5}\r\n\r\n",
		"event: dropped\ndata: {\"dropped\":3}\n\n",
		"event: supervision\ndata: {\"path\":\"\\u001b[2J\",\"type\":\"x\\ny\",\"reason\":\"\\u0007\\r\"}\n\n",
		"data: a\ndata:b\ndata\n\nevent\n\n",
		"event: supervision\ndata: {\"path\":\"/a\",\"type\":\"t\",\"time\":\"bad\"}\n\n",
		"\xff\xfe\x00\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		err := readSSE(strings.NewReader(string(stream)), func(ev sseEvent) bool {
			if strings.ContainsAny(ev.Name, "\n") || len(ev.Data) > maxSSEData {
				t.Fatalf("event out of bounds: name %q, %d bytes", ev.Name, len(ev.Data))
			}
			switch ev.Name {
			case "supervision":
				if se, err := decodeEvent(ev.Data); err == nil {
					for _, line := range []string{eventLine(se, "15:04:05.000"), eventLine(se, "2006-01-02T15:04:05.000Z07:00")} {
						if strings.ContainsFunc(line, unicode.IsControl) {
							t.Fatalf("event line with a control character: %q", line)
						}
					}
				}
			case "dropped":
				_, _ = decodeDropped(ev.Data)
			}
			return true
		})
		if err == nil {
			t.Fatal("the reader ended without a reason")
		}
	})
}
