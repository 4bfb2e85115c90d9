package stack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/intercooperative-network/icn-go/services/network"
)

// The /icn/rpc/1 wire format. A stream carries exactly one exchange: the
// caller writes a request frame and closes its write side, the server
// answers with one reply or error frame and closes. A frame is
//
//	kind (1 byte) | body length (uvarint) | body
//
// and an error frame's body is a code byte followed by UTF-8 text.
const (
	kindRequest byte = 1
	kindReply   byte = 2
	kindError   byte = 3
)

// writeFrame writes one frame in a single Write.
func writeFrame(w io.Writer, kind byte, body []byte) error {
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(body))
	buf = append(buf, kind)
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one frame whose body is at most max bytes; a larger
// announced length fails with ErrTooLarge before any of the body is read.
func readFrame(r *bufio.Reader, max int) (byte, []byte, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	if kind < kindRequest || kind > kindError {
		return 0, nil, fmt.Errorf("%w: frame kind %d", network.ErrProtocol, kind)
	}
	n, err := readLength(r)
	if err != nil {
		return 0, nil, err
	}
	if n > uint64(max) {
		return kind, nil, fmt.Errorf("%w: frame of %d bytes, limit %d", network.ErrTooLarge, n, max)
	}
	// The body grows as it arrives rather than being allocated at the
	// announced length: a peer announcing the limit and sending nothing
	// costs a chunk, not MaxRPCSize.
	var body bytes.Buffer
	body.Grow(int(min(n, frameChunk)))
	if _, err := io.CopyN(&body, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return kind, body.Bytes(), nil
}

// frameChunk is the most a frame's body is given before its bytes arrive.
const frameChunk = 64 << 10

// errorBody encodes an error frame's body, truncating the text.
func errorBody(code network.RemoteCode, msg string) []byte {
	if len(msg) > network.MaxRemoteErrorLen {
		msg = msg[:network.MaxRemoteErrorLen]
	}
	return append([]byte{byte(code)}, msg...)
}

// parseErrorBody decodes an error frame's body.
func parseErrorBody(body []byte) (network.RemoteCode, string, error) {
	if len(body) == 0 {
		return 0, "", fmt.Errorf("%w: empty error frame", network.ErrProtocol)
	}
	msg := body[1:]
	if len(msg) > network.MaxRemoteErrorLen {
		msg = msg[:network.MaxRemoteErrorLen]
	}
	return network.RemoteCode(body[0]), string(msg), nil
}

// readLength reads a canonical (shortest) uvarint: a padded or overlong
// encoding is a protocol violation, so each frame has one encoding.
func readLength(r io.ByteReader) (uint64, error) {
	var x uint64
	for i := range binary.MaxVarintLen64 {
		b, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i > 0 && b == 0 {
				return 0, fmt.Errorf("%w: frame length not minimally encoded", network.ErrProtocol)
			}
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, fmt.Errorf("%w: frame length overflows", network.ErrProtocol)
			}
			return x | uint64(b)<<(7*i), nil
		}
		x |= uint64(b&0x7f) << (7 * i)
	}
	return 0, fmt.Errorf("%w: frame length overflows", network.ErrProtocol)
}
