package keystore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// FuzzDecodeKeyFile checks that the key-file decoder never panics on
// arbitrary bytes, that it fails only with the package's errors, and that a
// plain key it accepts re-encodes to a file holding the same key.
// Seed corpus: testdata/fuzz/FuzzDecodeKeyFile.
func FuzzDecodeKeyFile(f *testing.F) {
	seed := bytes.Repeat([]byte{1}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	plain, err := encodePlain(priv)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := encodeEncrypted(priv, []byte("fuzz"), KDFParams{Time: 1, MemoryKiB: 8, Threads: 1}, bytes.NewReader(make([]byte, 64)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(enc)

	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := parseKeyFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("parse error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		if kf.encrypted {
			if _, err := kf.privateKey(nil); !errors.Is(err, ErrPassphraseRequired) {
				t.Fatalf("encrypted file without passphrase: %v", err)
			}
			// Run the KDF only where it is cheap; parseKeyFile has already
			// bounded the parameters.
			if kf.params.Time > 2 || kf.params.MemoryKiB > 256 {
				return
			}
			k, err := kf.privateKey([]byte("fuzz"))
			if err != nil && !errors.Is(err, ErrWrongPassphrase) && !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("encrypted file: unexpected error %v", err)
			}
			if err == nil && len(k) != ed25519.PrivateKeySize {
				t.Fatalf("decrypted key of %d bytes", len(k))
			}
			return
		}
		if _, err := kf.privateKey([]byte("x")); !errors.Is(err, ErrNotEncrypted) {
			t.Fatalf("plain file with passphrase: %v", err)
		}
		k, err := kf.privateKey(nil)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("plain file: error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		if len(k) != ed25519.PrivateKeySize {
			t.Fatalf("key of %d bytes", len(k))
		}
		again, err := encodePlain(k)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := decodeKeyFile(again, nil)
		if err != nil || !k.Equal(k2) {
			t.Fatalf("re-encoded key decodes to %x, %v", k2, err)
		}
	})
}
