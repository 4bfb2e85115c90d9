package stack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/intercooperative-network/icn-go/services/network"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, body := range [][]byte{nil, {}, []byte("hello"), bytes.Repeat([]byte{7}, 70000)} {
		var buf bytes.Buffer
		if err := writeFrame(&buf, kindReply, body); err != nil {
			t.Fatal(err)
		}
		kind, got, err := readFrame(bufio.NewReader(&buf), len(body))
		if err != nil || kind != kindReply || !bytes.Equal(got, body) {
			t.Fatalf("round trip of %d bytes: kind %d, %d bytes, %v", len(body), kind, len(got), err)
		}
	}
}

func TestReadFrameRejects(t *testing.T) {
	header := func(kind byte, n uint64) []byte { return binary.AppendUvarint([]byte{kind}, n) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"unknown kind", header(9, 1), network.ErrProtocol},
		{"kind zero", header(0, 1), network.ErrProtocol},
		{"length over the limit", header(kindRequest, 11), network.ErrTooLarge},
		{"huge length", header(kindRequest, 1<<62), network.ErrTooLarge},
		{"varint overflow", append([]byte{kindRequest}, bytes.Repeat([]byte{0xff}, 11)...), network.ErrProtocol},
		{"no length", []byte{kindRequest}, io.ErrUnexpectedEOF},
		{"padded length", []byte{kindRequest, 0x81, 0x00}, network.ErrProtocol},
		{"truncated length", []byte{kindRequest, 0x81}, io.ErrUnexpectedEOF},
		{"truncated body", append(header(kindRequest, 5), "abc"...), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readFrame(bufio.NewReader(bytes.NewReader(tt.in)), 10)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReadFrameAllocatesAsTheBodyArrives: a frame announcing the whole
// limit and then stopping costs a chunk, not the announced length.
func TestReadFrameAllocatesAsTheBodyArrives(t *testing.T) {
	in := append(binary.AppendUvarint([]byte{kindRequest}, network.MaxRPCSize), "abc"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := readFrame(bufio.NewReader(bytes.NewReader(in)), network.MaxRPCSize)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > network.MaxRPCSize/4 {
		t.Fatalf("allocated %d bytes for a 3-byte body announced as %d", got, network.MaxRPCSize)
	}
}

func TestErrorBody(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 3*network.MaxRemoteErrorLen))
	code, msg, err := parseErrorBody(errorBody(network.RemoteHandlerError, long))
	if err != nil || code != network.RemoteHandlerError || len(msg) != network.MaxRemoteErrorLen {
		t.Fatalf("code %v, %d bytes, %v", code, len(msg), err)
	}
	if _, _, err := parseErrorBody(nil); !errors.Is(err, network.ErrProtocol) {
		t.Fatalf("empty error body: %v", err)
	}
}

// FuzzReadFrame: any input is a frame within the limit or an error, never a
// panic or an allocation past the limit.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{
		{kindRequest, 0},
		{kindReply, 3, 'a', 'b', 'c'},
		{kindError, 2, byte(network.RemoteTooLarge), 'x'},
		{kindRequest, 0xff, 0xff, 0xff, 0xff, 0x0f},
		{4, 1, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 10
		kind, body, err := readFrame(bufio.NewReader(bytes.NewReader(in)), limit)
		if err != nil {
			return
		}
		if kind < kindRequest || kind > kindError || len(body) > limit {
			t.Fatalf("accepted kind %d with %d bytes", kind, len(body))
		}
		var buf bytes.Buffer
		if err := writeFrame(&buf, kind, body); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, buf.Bytes()) {
			t.Fatalf("re-encoding differs: %x vs %x", buf.Bytes(), in)
		}
	})
}
