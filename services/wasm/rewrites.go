package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// rewrites keeps instrumented modules on disk, next to wazero's
// compilation cache, so that a restarted node skips the rewrite as well as
// the compilation. An entry is keyed by the engine's cache key (the
// module's CID, or the SHA-256 of its bytes) and the cost-table version:
// the directory is per version and the file named by the key's hash.
// Entries are written to a temporary file and renamed, and checked on
// every read: magic, version, lengths, CRC-32C of the entry and of the
// module it was made from (so a key reused for other bytes is a miss, not
// the wrong rewrite). A file that does not check out is a miss, and the
// rewrite that follows replaces it. CRCs, not SHA-256: they catch damage
// at memory speed, where hashing the module and its rewrite would cost as
// much as rewriting it (the 3.8 MB Go corpus: about 30 ms).
type rewrites struct {
	dir     string
	version int
	log     *slog.Logger
}

// rewritesMagic starts every entry; the number is the file format's.
const rewritesMagic = "icnfuel1"

// An entry is a header, then the payload: the length (4 bytes) of the
// metadata, the metadata (storedRewrite in gob), and the instrumented
// module. The header is rewritesMagic, then, big endian, the cost-table
// version (4 bytes), the length (8) and CRC (4) of the original module, and
// the length (8) and CRC (4) of the payload.
const rewritesHeader = len(rewritesMagic) + 4 + 12 + 12

// storedRewrite is a fuel.Module without its Binary.
type storedRewrite struct {
	Imports  []fuel.Import
	Exports  []fuel.Export
	Memory   *fuel.Limits
	HasStart bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openRewrites makes the directory of version's entries under cacheDir.
func openRewrites(cacheDir string, version int, log *slog.Logger) (*rewrites, error) {
	dir := filepath.Join(cacheDir, fmt.Sprintf("icn-fuel-v%d-r%d", version, fuel.RewriteVersion))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wasm: rewrite cache: %w", err)
	}
	return &rewrites{dir: dir, version: version, log: log}, nil
}

func (c *rewrites) path(key string) string {
	return filepath.Join(c.dir, fmt.Sprintf("%x", sha256.Sum256([]byte(key))))
}

// get returns the stored rewrite of src, cached under key; false on a
// miss, whatever the reason.
func (c *rewrites) get(key string, src []byte) (*fuel.Module, bool) {
	p := c.path(key)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err == nil {
		var m *fuel.Module
		if m, err = c.decode(b, src); err == nil {
			return m, true
		}
	}
	c.log.Warn("rewrite cache: entry ignored", "key", key, "path", p, "err", err)
	return nil, false
}

func (c *rewrites) decode(b, src []byte) (*fuel.Module, error) {
	if len(b) < rewritesHeader || string(b[:len(rewritesMagic)]) != rewritesMagic {
		return nil, errors.New("not an entry")
	}
	h := b[len(rewritesMagic):rewritesHeader]
	if v := binary.BigEndian.Uint32(h); int64(v) != int64(c.version) {
		return nil, fmt.Errorf("cost table version %d, want %d", v, c.version)
	}
	if binary.BigEndian.Uint64(h[4:]) != uint64(len(src)) || binary.BigEndian.Uint32(h[12:]) != crc32.Checksum(src, castagnoli) {
		return nil, errors.New("the rewrite of another module")
	}
	payload := b[rewritesHeader:]
	if n := binary.BigEndian.Uint64(h[16:]); n != uint64(len(payload)) {
		return nil, fmt.Errorf("%d bytes of payload, the header says %d", len(payload), n)
	}
	if binary.BigEndian.Uint32(h[24:]) != crc32.Checksum(payload, castagnoli) {
		return nil, errors.New("payload does not match its CRC")
	}
	if len(payload) < 4 || uint64(binary.BigEndian.Uint32(payload)) > uint64(len(payload)-4) {
		return nil, errors.New("metadata length out of range")
	}
	end := 4 + int(binary.BigEndian.Uint32(payload))
	meta, bin := payload[4:end], payload[end:]
	var s storedRewrite
	if err := gob.NewDecoder(bytes.NewReader(meta)).Decode(&s); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return &fuel.Module{Binary: bin, Imports: s.Imports, Exports: s.Exports, Memory: s.Memory, HasStart: s.HasStart}, nil
}

// put stores m, the rewrite of src, under key. A failure is logged, not
// returned: the cache only saves time.
func (c *rewrites) put(key string, src []byte, m *fuel.Module) {
	if err := c.write(key, src, m); err != nil {
		c.log.Warn("rewrite cache: entry not stored", "key", key, "err", err)
	}
}

func (c *rewrites) write(key string, src []byte, m *fuel.Module) (err error) {
	var meta bytes.Buffer
	meta.Write(make([]byte, 4)) // its length, below
	err = gob.NewEncoder(&meta).Encode(storedRewrite{Imports: m.Imports, Exports: m.Exports, Memory: m.Memory, HasStart: m.HasStart})
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(meta.Bytes(), uint32(meta.Len()-4))
	crc := crc32.Update(crc32.Checksum(meta.Bytes(), castagnoli), castagnoli, m.Binary)
	h := make([]byte, 0, rewritesHeader)
	h = append(h, rewritesMagic...)
	h = binary.BigEndian.AppendUint32(h, uint32(c.version))
	h = binary.BigEndian.AppendUint64(h, uint64(len(src)))
	h = binary.BigEndian.AppendUint32(h, crc32.Checksum(src, castagnoli))
	h = binary.BigEndian.AppendUint64(h, uint64(meta.Len()+len(m.Binary)))
	h = binary.BigEndian.AppendUint32(h, crc)

	// Written aside and renamed, so that a reader never sees half an
	// entry; no fsync: an entry a crash damaged fails its check.
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	for _, b := range [][]byte{h, meta.Bytes(), m.Binary} {
		if _, err := f.Write(b); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), c.path(key))
}
