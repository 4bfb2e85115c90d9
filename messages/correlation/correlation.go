// Package correlation carries the correlation id of one piece of work (an HTTP
// request, a wire message) through context.Context, actor message headers and
// log lines. It imports nothing of ICN's and holds no state.
package correlation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// Header is the key under which actor message headers and wire envelopes carry
// the correlation id.
const Header = "icn-correlation-id"

// MaxLen bounds an id accepted from outside (an X-Request-ID header, a wire
// envelope); longer ids are replaced, not truncated.
const MaxLen = 128

type key struct{}

// With returns a context that carries id.
func With(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, key{}, id)
}

// From returns the id carried by ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New returns a fresh random id (16 bytes, hex).
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Valid reports whether an id received from outside may be reused as is:
// non-empty, at most MaxLen bytes, printable ASCII without spaces.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
