package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/intercooperative-network/icn-go/supervisors"
)

// Bounds on what the event stream may send: icnd's events are a few hundred
// bytes each.
const (
	maxSSELine = 256 << 10
	maxSSEData = 1 << 20
)

var (
	errSSELineTooLong = errors.New("event stream: line too long")
	errSSEDataTooLong = errors.New("event stream: event too large")
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	Name string // "message" when the stream named none
	Data string
}

// readSSE reads r as text/event-stream (lines ending in LF or CRLF) and
// calls emit for each event, until r ends (io.EOF), fails, or emit returns
// false (nil). Comment lines (": ...") and the id and retry fields are
// ignored; an event cut short by the end of the stream is dropped, as the
// specification says.
func readSSE(r io.Reader, emit func(sseEvent) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var name string
	var data strings.Builder
	hasData := false
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if hasData {
				ev := sseEvent{Name: name, Data: strings.TrimSuffix(data.String(), "\n")}
				if ev.Name == "" {
					ev.Name = "message"
				}
				if !emit(ev) {
					return nil
				}
			}
			name, hasData = "", false
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if data.Len()+len(value)+1 > maxSSEData {
				return errSSEDataTooLong
			}
			data.Write(value)
			data.WriteByte('\n')
			hasData = true
		}
	}
}

// readLine returns the next line without its LF or CRLF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxSSELine {
			return nil, errSSELineTooLong
		}
		switch {
		case err == nil:
			line = append(line, chunk...)
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
		default:
			return nil, err // a partial last line is dropped with its event
		}
	}
}

// decodeEvent reads the data of an "event: supervision".
func decodeEvent(data string) (supervisors.Event, error) {
	var ev supervisors.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return ev, fmt.Errorf("event stream: malformed supervision event: %w", err)
	}
	if ev.Path == "" || ev.Type == "" {
		return ev, errors.New("event stream: supervision event without path or type")
	}
	return ev, nil
}

// decodeDropped reads the data of an "event: dropped".
func decodeDropped(data string) (uint64, error) {
	var d struct {
		Dropped uint64 `json:"dropped"`
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return 0, fmt.Errorf("event stream: malformed dropped event: %w", err)
	}
	return d.Dropped, nil
}
