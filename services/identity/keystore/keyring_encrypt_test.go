package keystore_test

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
)

func TestEncryptKeyring(t *testing.T) {
	dataDir := t.TempDir()
	node := keyringtest.NewNode(t)
	k := mustOpenKeyring(t, dataDir, node)
	for range 3 {
		keyringtest.Create(t, k)
	}
	want := k.DIDs()
	sig, _ := k.Sign(want[1], []byte("m"))

	n, err := keystore.EncryptKeyring(dataDir, pass, cheap)
	if err != nil || n != 3 {
		t.Fatalf("EncryptKeyring = %d, %v; want 3 sealed", n, err)
	}
	for _, did := range want[1:] {
		b, err := os.ReadFile(keystore.AccountPath(dataDir, did))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("ICN ACCOUNT KEY")) || bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Fatalf("%s is not sealed:\n%s", did, b)
		}
	}
	// It opens with the passphrase only, with the same keys.
	if _, err := keystore.OpenKeyring(dataDir, node); !errors.Is(err, keystore.ErrPassphraseRequired) {
		t.Fatalf("open without the passphrase: %v", err)
	}
	again := mustOpenKeyring(t, dataDir, node, keystore.WithPassphrase(pass))
	if got := again.DIDs(); !slices.Equal(got, want) {
		t.Fatalf("after encryption: %v, want %v", got, want)
	}
	if s, _ := again.Sign(want[1], []byte("m")); !bytes.Equal(s, sig) {
		t.Fatal("an account signs with another key after encryption")
	}
	before := snapshot(t, dataDir)
	if _, err := keystore.EncryptKeyring(dataDir, pass, cheap); !errors.Is(err, keystore.ErrAlreadyEncrypted) {
		t.Fatalf("second EncryptKeyring: %v", err)
	}
	if _, err := keystore.EncryptKeyring(dataDir, []byte("wrong"), cheap); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("EncryptKeyring with another passphrase: %v", err)
	}
	if !maps.Equal(snapshot(t, dataDir), before) {
		t.Fatal("a refused EncryptKeyring changed the directory")
	}
}

// TestEncryptKeyringResumes: a crash after the keyring file was replaced
// leaves plain account files; opening refuses and says how to finish, and
// EncryptKeyring finishes.
func TestEncryptKeyringResumes(t *testing.T) {
	dataDir := t.TempDir()
	node := keyringtest.NewNode(t)
	k := mustOpenKeyring(t, dataDir, node)
	keyringtest.Create(t, k)
	d := keyringtest.Create(t, k)
	plain, err := os.ReadFile(keystore.AccountPath(dataDir, d))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.EncryptKeyring(dataDir, pass, cheap); err != nil {
		t.Fatal(err)
	}
	// The crash: d's file was never sealed.
	if err := os.WriteFile(keystore.AccountPath(dataDir, d), plain, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = keystore.OpenKeyring(dataDir, node, keystore.WithPassphrase(pass))
	if !errors.Is(err, keystore.ErrCorruptKey) || !strings.Contains(err.Error(), "run it again") {
		t.Fatalf("open of a half-encrypted keyring: %v", err)
	}
	if n, err := keystore.EncryptKeyring(dataDir, pass, cheap); err != nil || n != 1 {
		t.Fatalf("finishing EncryptKeyring = %d, %v; want 1 sealed", n, err)
	}
	again := mustOpenKeyring(t, dataDir, node, keystore.WithPassphrase(pass))
	if !slices.Equal(again.DIDs(), k.DIDs()) {
		t.Fatalf("after finishing: %v, want %v", again.DIDs(), k.DIDs())
	}
}

func TestEncryptKeyringWithoutKeyring(t *testing.T) {
	dataDir := t.TempDir()
	if n, err := keystore.EncryptKeyring(dataDir, pass, cheap); err != nil || n != 0 {
		t.Fatalf("no keyring: %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, keystore.AccountsDir)); !os.IsNotExist(err) {
		t.Fatalf("EncryptKeyring created the accounts dir: %v", err)
	}
}
