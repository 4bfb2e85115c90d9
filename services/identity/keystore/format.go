package keystore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The key file is one PEM block.
//
// Unencrypted, it is a "PRIVATE KEY" block holding the PKCS#8 DER of the
// Ed25519 key, with no headers: the format openssl and most tools read.
//
// Encrypted, it is an "ICN ENCRYPTED PRIVATE KEY" block whose headers say how
// to decrypt it and whose body is AES-256-GCM(PKCS#8 DER), sealed with a key
// derived from the passphrase by argon2id:
//
//	-----BEGIN ICN ENCRYPTED PRIVATE KEY-----
//	Cipher: AES-256-GCM
//	KDF: argon2id
//	KDF-Memory-KiB: 65536
//	KDF-Salt: <16 bytes, base64>
//	KDF-Threads: 2
//	KDF-Time: 3
//	Nonce: <12 bytes, base64>
//	Version: 1
//
//	<ciphertext and tag, base64>
//	-----END ICN ENCRYPTED PRIVATE KEY-----
//
// The GCM additional data is the block type and every header, so no header
// can be changed without the file failing to open.
const (
	blockPlain     = "PRIVATE KEY"
	blockEncrypted = "ICN ENCRYPTED PRIVATE KEY"

	hdrVersion = "Version"
	hdrKDF     = "KDF"
	hdrTime    = "KDF-Time"
	hdrMemory  = "KDF-Memory-KiB"
	hdrThreads = "KDF-Threads"
	hdrSalt    = "KDF-Salt"
	hdrCipher  = "Cipher"
	hdrNonce   = "Nonce"

	formatVersion = "1"
	kdfArgon2id   = "argon2id"
	cipherAESGCM  = "AES-256-GCM"

	saltSize  = 16
	nonceSize = 12 // the standard GCM nonce size
	keySize   = 32 // AES-256

	// maxFileSize bounds what is read from disk: a key file is about 120
	// bytes plain and 400 encrypted.
	maxFileSize = 16 << 10
)

// headerNames returns every header an encrypted file has, and no other,
// sorted.
func headerNames() []string {
	return []string{hdrCipher, hdrKDF, hdrMemory, hdrSalt, hdrThreads, hdrTime, hdrNonce, hdrVersion}
}

// KDFParams are the argon2id parameters that turn a passphrase into the key
// encrypting the node key. They are recorded in each encrypted file, so a
// file keeps opening after the defaults change.
type KDFParams struct {
	// Time is the number of passes over the memory.
	Time uint32
	// MemoryKiB is the memory used, in KiB.
	MemoryKiB uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// Limits on KDFParams, for new files and for files read from disk (so a key
// file cannot make Open allocate without bound).
const (
	maxKDFTime      = 64
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
)

// DefaultKDFParams returns the parameters used for new encrypted files:
// time 3, memory 64 MiB, threads 2 (about a tenth of a second on one core).
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}
}

// Validate reports whether p is usable: Time in 1..64, Threads at least 1,
// MemoryKiB at least 8 per thread and at most 4 GiB.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1:
		return fmt.Errorf("argon2id threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	}
	return nil
}

// keyFile is a parsed key file: either the DER of a plain key, or the
// parameters and ciphertext of an encrypted one.
type keyFile struct {
	encrypted bool
	der       []byte // plain only

	params            KDFParams
	salt, nonce       []byte
	ciphertext, adata []byte
}

// parseKeyFile parses the PEM structure of a key file without decrypting it.
// Every error wraps ErrCorruptKey.
func parseKeyFile(data []byte) (*keyFile, error) {
	block, err := decodeOneBlock(data)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case blockPlain:
		if len(block.Headers) != 0 {
			return nil, corrupt("unexpected PEM headers in a %q block", blockPlain)
		}
		return &keyFile{der: block.Bytes}, nil
	case blockEncrypted:
		return parseEncrypted(block)
	default:
		return nil, corrupt("PEM block type %q, want %q or %q", block.Type, blockPlain, blockEncrypted)
	}
}

// decodeOneBlock decodes a file that is exactly one PEM block, with nothing
// but white space around it and at most maxFileSize bytes. Every error wraps
// ErrCorruptKey.
func decodeOneBlock(data []byte) (*pem.Block, error) {
	if len(data) > maxFileSize {
		return nil, corrupt("larger than %d bytes", maxFileSize)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return nil, corrupt("not a PEM file")
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, corrupt("malformed PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, corrupt("unexpected data after the PEM block")
	}
	return block, nil
}

func parseEncrypted(block *pem.Block) (*keyFile, error) {
	h := block.Headers
	if want := headerNames(); !slices.Equal(slices.Sorted(maps.Keys(h)), want) {
		return nil, corrupt("encrypted key has headers %q, want %q", slices.Sorted(maps.Keys(h)), want)
	}
	if v := h[hdrVersion]; v != formatVersion {
		return nil, corrupt("unsupported version %q", v)
	}
	if v := h[hdrKDF]; v != kdfArgon2id {
		return nil, corrupt("unsupported KDF %q", v)
	}
	if v := h[hdrCipher]; v != cipherAESGCM {
		return nil, corrupt("unsupported cipher %q", v)
	}
	kf := &keyFile{encrypted: true, ciphertext: block.Bytes}
	var err error
	if kf.params.Time, err = parseUint32(h, hdrTime, maxKDFTime); err != nil {
		return nil, err
	}
	if kf.params.MemoryKiB, err = parseUint32(h, hdrMemory, maxKDFMemoryKiB); err != nil {
		return nil, err
	}
	threads, err := parseUint32(h, hdrThreads, 255)
	if err != nil {
		return nil, err
	}
	kf.params.Threads = uint8(threads)
	if err := kf.params.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	if kf.salt, err = parseBytes(h, hdrSalt, saltSize); err != nil {
		return nil, err
	}
	if kf.nonce, err = parseBytes(h, hdrNonce, nonceSize); err != nil {
		return nil, err
	}
	if len(kf.ciphertext) < aesGCMOverhead {
		return nil, corrupt("ciphertext of %d bytes is shorter than the GCM tag", len(kf.ciphertext))
	}
	kf.adata = additionalData(block.Type, h)
	return kf, nil
}

const aesGCMOverhead = 16

// parseUint32 reads a header holding a decimal number in canonical form (no
// sign, no leading zeros) no larger than limit.
func parseUint32(h map[string]string, name string, limit uint64) (uint32, error) {
	s := h[name]
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > limit || strconv.FormatUint(n, 10) != s {
		return 0, corrupt("header %s: bad value %q", name, s)
	}
	return uint32(n), nil
}

// parseBytes reads a header holding exactly size bytes in canonical
// standard base64.
func parseBytes(h map[string]string, name string, size int) ([]byte, error) {
	s := h[name]
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		return nil, corrupt("header %s: want %d bytes of base64, have %q", name, size, s)
	}
	return b, nil
}

// additionalData is the GCM additional data of an encrypted block: the block
// type, then each header as "name: value", sorted by name, one per line.
// Header values never contain a newline (PEM headers are lines), so the
// encoding is unambiguous.
func additionalData(blockType string, h map[string]string) []byte {
	var b strings.Builder
	b.WriteString(blockType)
	b.WriteByte('\n')
	for _, k := range slices.Sorted(maps.Keys(h)) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(h[k])
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// privateKey returns the key the file holds. passphrase must be nil or empty
// for a plain file (ErrNotEncrypted otherwise) and non-empty for an encrypted
// one (ErrPassphraseRequired otherwise); a passphrase that does not open the
// file gives ErrWrongPassphrase.
func (kf *keyFile) privateKey(passphrase []byte) (ed25519.PrivateKey, error) {
	if !kf.encrypted {
		if len(passphrase) > 0 {
			return nil, fmt.Errorf("%w: refusing to ignore the passphrase given (encrypt the file with Encrypt, or open it without one)", ErrNotEncrypted)
		}
		return parsePKCS8(kf.der)
	}
	der, err := kf.open(passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return parsePKCS8(der)
}

// open returns the plaintext of an encrypted block: it derives the key from
// passphrase with the block's argon2id parameters and salt (ErrPassphraseRequired
// if passphrase is empty) and opens the ciphertext (ErrWrongPassphrase if it
// does not open).
func (kf *keyFile) open(passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, ErrPassphraseRequired
	}
	key := deriveKey(passphrase, kf.salt, kf.params)
	defer clear(key)
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, kf.nonce, kf.ciphertext, kf.adata)
	if err != nil {
		// GCM cannot tell a wrong key from altered data.
		return nil, fmt.Errorf("%w (or the file was altered)", ErrWrongPassphrase)
	}
	return plain, nil
}

// decodeKeyFile parses and opens a key file.
func decodeKeyFile(data, passphrase []byte) (ed25519.PrivateKey, error) {
	kf, err := parseKeyFile(data)
	if err != nil {
		return nil, err
	}
	return kf.privateKey(passphrase)
}

// parsePKCS8 returns the Ed25519 key in a PKCS#8 DER document.
func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, corrupt("PKCS#8: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, corrupt("key type %T, want ed25519", k)
	}
	return priv, nil
}

// encodePlain returns the unencrypted key file of priv.
func encodePlain(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keystore: marshal key: %w", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: blockPlain, Bytes: der}), nil
}

// encodeEncrypted returns the encrypted key file of priv, with salt and
// nonce read from rand.
func encodeEncrypted(priv ed25519.PrivateKey, passphrase []byte, p KDFParams, rand io.Reader) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keystore: marshal key: %w", err)
	}
	defer clear(der)
	return sealWithPassphrase(blockEncrypted, der, passphrase, p, rand)
}

// sealWithPassphrase returns a PEM block of type blockType whose headers are
// those of an encrypted key file and whose body is plaintext sealed with
// AES-256-GCM under the argon2id key of passphrase, with salt and nonce read
// from rand. parseEncrypted and keyFile.open read it back.
func sealWithPassphrase(blockType string, plaintext, passphrase []byte, p KDFParams, rand io.Reader) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	salt := make([]byte, saltSize)
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("keystore: salt: %w", err)
	}
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("keystore: nonce: %w", err)
	}
	h := map[string]string{
		hdrVersion: formatVersion,
		hdrKDF:     kdfArgon2id,
		hdrTime:    strconv.FormatUint(uint64(p.Time), 10),
		hdrMemory:  strconv.FormatUint(uint64(p.MemoryKiB), 10),
		hdrThreads: strconv.FormatUint(uint64(p.Threads), 10),
		hdrSalt:    base64.StdEncoding.EncodeToString(salt),
		hdrCipher:  cipherAESGCM,
		hdrNonce:   base64.StdEncoding.EncodeToString(nonce),
	}
	key := deriveKey(passphrase, salt, p)
	defer clear(key)
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, nonce, plaintext, additionalData(blockType, h))
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Headers: h, Bytes: ct}), nil
}

func deriveKey(passphrase, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, keySize)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keystore: gcm: %w", err)
	}
	return aead, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptKey}, args...)...)
}
