package dag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages/block"
)

// Store layout, all under "dag/":
//
//	dag/b/<cid bytes>  block data
//	dag/m/<cid bytes>  meta: stored-at, expires-at, size, links
//	dag/p/<cid bytes>  pin: recursive flag, pinned-at
//	dag/r/<name>       ref: updated-at, CID (a named recursive root)
//
// A block's data and meta are written in the same batch, so either both
// exist or neither does. Links live in the meta so that GC and walks never
// decode block data.
var (
	prefixData = []byte("dag/b/")
	prefixMeta = []byte("dag/m/")
	prefixPin  = []byte("dag/p/")
	prefixRef  = []byte("dag/r/")
)

func refKey(name string) []byte {
	return append(append(make([]byte, 0, len(prefixRef)+len(name)), prefixRef...), name...)
}

func key(prefix []byte, c cid.Cid) []byte {
	return append(append(make([]byte, 0, len(prefix)+40), prefix...), c.Bytes()...)
}

func cidOf(prefix, k []byte) (cid.Cid, error) { return block.Cast(k[len(prefix):]) }

// meta is what the dag keeps beside each block.
type meta struct {
	storedAt  time.Time
	expiresAt time.Time
	size      int
	links     []cid.Cid
}

const metaVersion = 1

var errBadRecord = errors.New("dag: malformed store record")

func (m meta) encode() []byte {
	b := make([]byte, 0, 32+len(m.links)*40)
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(m.storedAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.expiresAt.UnixNano()))
	b = binary.AppendUvarint(b, uint64(m.size))
	b = binary.AppendUvarint(b, uint64(len(m.links)))
	for _, l := range m.links {
		lb := l.Bytes()
		b = binary.AppendUvarint(b, uint64(len(lb)))
		b = append(b, lb...)
	}
	return b
}

func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) < 17 || b[0] != metaVersion {
		return m, fmt.Errorf("%w: meta of %d bytes", errBadRecord, len(b))
	}
	m.storedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))
	m.expiresAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[9:17])))
	rest := b[17:]
	size, n := binary.Uvarint(rest)
	if n <= 0 {
		return m, fmt.Errorf("%w: meta size", errBadRecord)
	}
	rest = rest[n:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) {
		return m, fmt.Errorf("%w: meta links", errBadRecord)
	}
	rest = rest[n:]
	m.size = int(size)
	m.links = make([]cid.Cid, 0, count)
	for range count {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return m, fmt.Errorf("%w: meta link", errBadRecord)
		}
		c, err := block.Cast(rest[n : n+int(l)])
		if err != nil {
			return m, fmt.Errorf("%w: %v", errBadRecord, err)
		}
		m.links = append(m.links, c)
		rest = rest[n+int(l):]
	}
	return m, nil
}

// pin is a pin record.
type pin struct {
	recursive bool
	pinnedAt  time.Time
}

func (p pin) encode() []byte {
	b := []byte{metaVersion, 0}
	if p.recursive {
		b[1] = 1
	}
	return binary.BigEndian.AppendUint64(b, uint64(p.pinnedAt.UnixNano()))
}

func decodePin(b []byte) (pin, error) {
	if len(b) != 10 || b[0] != metaVersion || b[1] > 1 {
		return pin{}, fmt.Errorf("%w: pin of %d bytes", errBadRecord, len(b))
	}
	return pin{recursive: b[1] == 1, pinnedAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[2:])))}, nil
}

// ref is a ref record.
type ref struct {
	cid       cid.Cid
	updatedAt time.Time
}

func (r ref) encode() []byte {
	b := binary.BigEndian.AppendUint64([]byte{metaVersion}, uint64(r.updatedAt.UnixNano()))
	return append(b, r.cid.Bytes()...)
}

func decodeRef(b []byte) (ref, error) {
	if len(b) < 10 || b[0] != metaVersion {
		return ref{}, fmt.Errorf("%w: ref of %d bytes", errBadRecord, len(b))
	}
	c, err := block.Cast(b[9:])
	if err != nil {
		return ref{}, fmt.Errorf("%w: ref: %v", errBadRecord, err)
	}
	return ref{cid: c, updatedAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))}, nil
}
