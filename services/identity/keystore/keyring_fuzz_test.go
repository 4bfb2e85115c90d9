package keystore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// fuzzAccount returns the fixed key, DID and data key the account-file fuzz
// target decodes against.
func fuzzAccount() (ed25519.PrivateKey, identity.DID, []byte) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	return priv, identity.DIDFromPublicKey(priv.Public().(ed25519.PublicKey)), bytes.Repeat([]byte{2}, dataKeySize)
}

// FuzzDecodeAccountFile checks that the account-file decoder never panics on
// arbitrary bytes, in a plain and in an encrypted keyring; that it fails only
// with ErrCorruptKey; and that a key it accepts is the key of the account the
// file is named after and re-encodes to a file that decodes to it again.
// Seed corpus: testdata/fuzz/FuzzDecodeAccountFile.
func FuzzDecodeAccountFile(f *testing.F) {
	priv, did, dataKey := fuzzAccount()
	plain, err := encodeAccountFile(priv, did, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := encodeAccountFile(priv, did, dataKey, make([]byte, nonceSize))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(sealed)

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, key := range [][]byte{nil, dataKey} {
			k, err := decodeAccountFile(data, did, key)
			if err != nil {
				if !errors.Is(err, ErrCorruptKey) {
					t.Fatalf("error %v does not wrap ErrCorruptKey", err)
				}
				if k != nil {
					t.Fatal("a key with an error")
				}
				continue
			}
			if got := identity.DIDFromPublicKey(k.Public().(ed25519.PublicKey)); got != did {
				t.Fatalf("accepted the key of %s in the file of %s", got, did)
			}
			again, err := encodeAccountFile(k, did, key, make([]byte, nonceSize))
			if err != nil {
				t.Fatal(err)
			}
			k2, err := decodeAccountFile(again, did, key)
			if err != nil || !k.Equal(k2) {
				t.Fatalf("re-encoded key decodes to %x, %v", k2, err)
			}
		}
	})
}

// FuzzParseKeyringFile checks that the keyring-file parser never panics,
// fails only with ErrCorruptKey, and that a file it accepts unlocks only by
// the rules of its kind: a plain keyring refuses a passphrase, an encrypted
// one requires one and yields a data key of the right size or a typed error.
// Seed corpus: testdata/fuzz/FuzzParseKeyringFile.
func FuzzParseKeyringFile(f *testing.F) {
	plain, _, err := encodeKeyringFile(nil, KDFParams{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	sealed, _, err := encodeKeyringFile([]byte("fuzz"), KDFParams{Time: 1, MemoryKiB: 8, Threads: 1}, bytes.NewReader(make([]byte, 64)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(sealed)

	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := parseKeyringFile(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptKey) {
				t.Fatalf("parse error %v does not wrap ErrCorruptKey", err)
			}
			return
		}
		if kf.sealed == nil {
			if k, err := kf.dataKey(nil); err != nil || k != nil {
				t.Fatalf("plain keyring: data key %x, %v", k, err)
			}
			if _, err := kf.dataKey([]byte("x")); !errors.Is(err, ErrNotEncrypted) {
				t.Fatalf("plain keyring with a passphrase: %v", err)
			}
			return
		}
		if _, err := kf.dataKey(nil); !errors.Is(err, ErrPassphraseRequired) {
			t.Fatalf("encrypted keyring without a passphrase: %v", err)
		}
		// Run the KDF only where it is cheap; the parser bounded it.
		if kf.sealed.params.Time > 2 || kf.sealed.params.MemoryKiB > 256 {
			return
		}
		k, err := kf.dataKey([]byte("fuzz"))
		if err != nil && !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("encrypted keyring: unexpected error %v", err)
		}
		if err == nil && len(k) != dataKeySize {
			t.Fatalf("data key of %d bytes", len(k))
		}
	})
}
