package keystore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
)

// keyringModes are the two kinds of keyring: the options that open each.
var keyringModes = []struct {
	name string
	opts []keystore.Option
}{
	{"plain", nil},
	{"encrypted", []keystore.Option{keystore.WithPassphrase(pass), cheap}},
}

func TestKeyringContract(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			keyringtest.Run(t, func(t *testing.T, node *identity.Identity, max int) identity.Keyring {
				return mustOpenKeyring(t, t.TempDir(), node, append(slices.Clone(mode.opts), keystore.WithMaxAccounts(max))...)
			})
		})
	}
}

func TestKeyringReopenKeepsAccounts(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data") // missing: OpenKeyring creates it
			node := keyringtest.NewNode(t)
			k := mustOpenKeyring(t, dataDir, node, mode.opts...)
			for range 10 {
				keyringtest.Create(t, k)
			}
			want := k.DIDs()

			again := mustOpenKeyring(t, dataDir, node, mode.opts...)
			if got := again.DIDs(); !slices.Equal(got, want) {
				t.Fatalf("reopened keyring holds %v, want %v", got, want)
			}
			keyringtest.CheckSigns(t, again, want, []byte("after reopen"))
			for _, did := range want[1:] {
				a, _ := k.Sign(did, []byte("m"))
				b, _ := again.Sign(did, []byte("m"))
				if !bytes.Equal(a, b) {
					t.Errorf("%s signs with another key after reopen", did)
				}
			}
			// Creating goes on where it left off.
			d := keyringtest.Create(t, again)
			if third := mustOpenKeyring(t, dataDir, node, mode.opts...); !third.Has(d) || len(third.DIDs()) != len(want)+1 {
				t.Errorf("account created after reopen missing: %v", third.DIDs())
			}
		})
	}
}

func TestKeyringFiles(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			dataDir := t.TempDir()
			node := keyringtest.NewNode(t)
			k := mustOpenKeyring(t, dataDir, node, mode.opts...)
			a, b := keyringtest.Create(t, k), keyringtest.Create(t, k)

			dir := filepath.Join(dataDir, keystore.AccountsDir)
			assertMode(t, dir, 0o700)
			wantNames := []string{"keyring", accountName(a), accountName(b)}
			slices.Sort(wantNames)
			if got := dirNames(t, dir); !slices.Equal(got, wantNames) {
				t.Errorf("accounts dir holds %q, want %q (no temporary files, nothing for the node's key)", got, wantNames)
			}
			for _, name := range wantNames {
				assertMode(t, filepath.Join(dir, name), 0o600)
			}

			keyringBlock := decodePEM(t, filepath.Join(dir, "keyring"))
			accountBlock := decodePEM(t, keystore.AccountPath(dataDir, a))
			if keyringBlock.Type != "ICN KEYRING" || keyringBlock.Headers["Version"] != "1" {
				t.Errorf("keyring file: type %q, headers %v", keyringBlock.Type, keyringBlock.Headers)
			}
			if mode.name == "plain" {
				if len(keyringBlock.Headers) != 1 || len(keyringBlock.Bytes) != 0 {
					t.Errorf("plain keyring file: headers %v, %d body bytes", keyringBlock.Headers, len(keyringBlock.Bytes))
				}
				// A plain account file is a PKCS#8 key, as node.key is.
				if accountBlock.Type != "PRIVATE KEY" {
					t.Fatalf("plain account file block %q", accountBlock.Type)
				}
				k, err := x509.ParsePKCS8PrivateKey(accountBlock.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if got := identity.DIDFromPublicKey(k.(ed25519.PrivateKey).Public().(ed25519.PublicKey)); got != a {
					t.Errorf("%s holds the key of %s", keystore.AccountPath(dataDir, a), got)
				}
				return
			}
			wantKeyring := []string{"Cipher", "KDF", "KDF-Memory-KiB", "KDF-Salt", "KDF-Threads", "KDF-Time", "Nonce", "Version"}
			if got := slices.Sorted(maps.Keys(keyringBlock.Headers)); !slices.Equal(got, wantKeyring) || keyringBlock.Headers["KDF"] != "argon2id" {
				t.Errorf("encrypted keyring file headers %v", keyringBlock.Headers)
			}
			if len(keyringBlock.Bytes) != 32+16 {
				t.Errorf("sealed data key of %d bytes, want 48", len(keyringBlock.Bytes))
			}
			// Account files carry no KDF: argon2id runs once per open, on
			// the keyring file, never per account.
			if accountBlock.Type != "ICN ACCOUNT KEY" {
				t.Fatalf("encrypted account file block %q", accountBlock.Type)
			}
			if got := slices.Sorted(maps.Keys(accountBlock.Headers)); !slices.Equal(got, []string{"Cipher", "Nonce", "Version"}) {
				t.Errorf("encrypted account file headers %v", accountBlock.Headers)
			}
			if _, err := x509.ParsePKCS8PrivateKey(accountBlock.Bytes); err == nil {
				t.Error("encrypted account body parses as plain PKCS#8")
			}
			if accountBlock.Headers["Nonce"] == decodePEM(t, keystore.AccountPath(dataDir, b)).Headers["Nonce"] {
				t.Error("two account files share a nonce")
			}
		})
	}
}

func TestKeyringPassphrase(t *testing.T) {
	encDir, plainDir := t.TempDir(), t.TempDir()
	node := keyringtest.NewNode(t)
	enc := mustOpenKeyring(t, encDir, node, keystore.WithPassphrase(pass), cheap)
	keyringtest.Create(t, enc)
	keyringtest.Create(t, mustOpenKeyring(t, plainDir, node))
	keyringPath := func(dir string) string { return filepath.Join(dir, keystore.AccountsDir, "keyring") }

	// The right passphrase opens it, with the KDF parameters of the file
	// (not the defaults, which would be slow here).
	again := mustOpenKeyring(t, encDir, node, keystore.WithPassphrase(pass))
	if !slices.Equal(again.DIDs(), enc.DIDs()) {
		t.Errorf("reopened with the passphrase: %v, want %v", again.DIDs(), enc.DIDs())
	}

	tests := []struct {
		name string
		dir  string
		opts []keystore.Option
		want error
	}{
		{"wrong passphrase", encDir, []keystore.Option{keystore.WithPassphrase([]byte("wrong"))}, keystore.ErrWrongPassphrase},
		{"passphrase prefix", encDir, []keystore.Option{keystore.WithPassphrase(pass[:len(pass)-1])}, keystore.ErrWrongPassphrase},
		{"missing passphrase", encDir, nil, keystore.ErrPassphraseRequired},
		{"empty passphrase", encDir, []keystore.Option{keystore.WithPassphrase(nil)}, keystore.ErrEmptyPassphrase},
		{"passphrase for plain keyring", plainDir, []keystore.Option{keystore.WithPassphrase(pass)}, keystore.ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, tt.dir)
			k, err := keystore.OpenKeyring(tt.dir, node, tt.opts...)
			if !errors.Is(err, tt.want) || k != nil {
				t.Fatalf("OpenKeyring = %v, %v; want %v", k, err, tt.want)
			}
			if tt.want != keystore.ErrEmptyPassphrase && !strings.Contains(err.Error(), keyringPath(tt.dir)) {
				t.Errorf("error %q does not name %s", err, keyringPath(tt.dir))
			}
			if after := snapshot(t, tt.dir); !maps.Equal(after, before) {
				t.Error("a refused OpenKeyring changed the directory")
			}
		})
	}
}

func TestKeyringInsecurePermissions(t *testing.T) {
	dataDir := t.TempDir()
	node := keyringtest.NewNode(t)
	did := keyringtest.Create(t, mustOpenKeyring(t, dataDir, node))
	dir := filepath.Join(dataDir, keystore.AccountsDir)

	tests := []struct {
		name  string
		path  string
		mode  fs.FileMode
		isDir bool
	}{
		{"dir group readable", dir, 0o750, true},
		{"dir others searchable", dir, 0o701, true},
		{"dir world", dir, 0o777, true},
		{"account file 0644", keystore.AccountPath(dataDir, did), 0o644, false},
		{"account file 0660", keystore.AccountPath(dataDir, did), 0o660, false},
		{"keyring file 0604", filepath.Join(dir, "keyring"), 0o604, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := fs.FileMode(0o600)
			if tt.isDir {
				orig = 0o700
			}
			chmod(t, tt.path, tt.mode)
			defer chmod(t, tt.path, orig)
			_, err := keystore.OpenKeyring(dataDir, node)
			pe, ok := errors.AsType[*keystore.InsecurePermissionsError](err)
			if !errors.Is(err, keystore.ErrInsecurePermissions) || !ok {
				t.Fatalf("OpenKeyring = %v, want an *InsecurePermissionsError", err)
			}
			if pe.Path != tt.path || pe.Mode != tt.mode || pe.Dir != tt.isDir {
				t.Errorf("error %+v, want path %s mode %#o dir %v", pe, tt.path, tt.mode, tt.isDir)
			}
			wantChmod := "chmod 600"
			if tt.isDir {
				wantChmod = "chmod 700"
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), wantChmod) {
				t.Errorf("error text %q does not name the path and the fix %q", err, wantChmod)
			}
			assertMode(t, tt.path, tt.mode) // refused, not repaired
		})
	}
	if _, err := keystore.OpenKeyring(dataDir, node); err != nil {
		t.Errorf("OpenKeyring after the modes are restored: %v", err)
	}
}

func TestKeyringCorruptFiles(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			dataDir := t.TempDir()
			node := keyringtest.NewNode(t)
			k := mustOpenKeyring(t, dataDir, node, mode.opts...)
			a, b := keyringtest.Create(t, k), keyringtest.Create(t, k)
			pathA, pathB := keystore.AccountPath(dataDir, a), keystore.AccountPath(dataDir, b)
			origA, origB := readFile(t, pathA), readFile(t, pathB)
			keyringPath := filepath.Join(dataDir, keystore.AccountsDir, "keyring")
			origKeyring := readFile(t, keyringPath)

			// The same account in another keyring of the same kind and
			// passphrase, and in a keyring of the other kind.
			otherDir := t.TempDir()
			other := mustOpenKeyring(t, otherDir, node, mode.opts...)
			c := keyringtest.Create(t, other)
			otherKind := []keystore.Option{keystore.WithPassphrase(pass), cheap}
			if mode.name == "encrypted" {
				otherKind = nil
			}
			kindDir := t.TempDir()
			d := keyringtest.Create(t, mustOpenKeyring(t, kindDir, node, otherKind...))
			block := decodePEM(t, pathA)
			flipped := pem.EncodeToMemory(&pem.Block{Type: block.Type, Headers: block.Headers, Bytes: flipBit(block.Bytes)})

			tests := []struct {
				name string
				path string // the file written, which the error must name
				data []byte
			}{
				{"empty", pathA, nil},
				{"garbage", pathA, []byte("not a key")},
				{"truncated", pathA, origA[:len(origA)/2]},
				{"trailing data", pathA, append(bytes.Clone(origA), "junk"...)},
				{"flipped body bit", pathA, flipped},
				{"another account's file", pathA, origB},
				{"file from another keyring", pathA, readFile(t, keystore.AccountPath(otherDir, c))},
				{"file of the other kind", pathA, readFile(t, keystore.AccountPath(kindDir, d))},
				{"node key file", pathA, nodeKeyFile(t)},
				{"too large", pathA, append(bytes.Clone(origA), bytes.Repeat([]byte(" "), 20<<10)...)},
				{"keyring garbage", keyringPath, []byte("junk")},
				{"keyring of the other kind", keyringPath, readFile(t, filepath.Join(kindDir, keystore.AccountsDir, "keyring"))},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					orig := readFile(t, tt.path)
					writeKeyFile(t, tt.path, tt.data)
					defer writeKeyFile(t, tt.path, orig)
					before := snapshot(t, dataDir)
					got, err := keystore.OpenKeyring(dataDir, node, mode.opts...)
					if got != nil || err == nil {
						t.Fatal("OpenKeyring accepted a corrupt file")
					}
					// The keyring of the other kind is a passphrase error
					// (required, or refused), like node.key's.
					wantErr := keystore.ErrCorruptKey
					if tt.name == "keyring of the other kind" {
						wantErr = keystore.ErrPassphraseRequired
						if mode.name == "encrypted" {
							wantErr = keystore.ErrNotEncrypted
						}
					}
					if !errors.Is(err, wantErr) {
						t.Fatalf("OpenKeyring = %v, want %v", err, wantErr)
					}
					if !strings.Contains(err.Error(), tt.path) {
						t.Errorf("error %q does not name %s", err, tt.path)
					}
					if after := snapshot(t, dataDir); !maps.Equal(after, before) {
						t.Error("a refused OpenKeyring changed the directory")
					}
				})
			}
			if !bytes.Equal(readFile(t, pathB), origB) || !bytes.Equal(readFile(t, keyringPath), origKeyring) {
				t.Fatal("test did not restore the files")
			}
			mustOpenKeyring(t, dataDir, node, mode.opts...)
		})
	}
}

func TestKeyringRefusesNodeKeyAsAccount(t *testing.T) {
	dataDir := t.TempDir()
	node, err := keystore.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	mustOpenKeyring(t, dataDir, node)
	path := keystore.AccountPath(dataDir, node.DID())
	writeKeyFile(t, path, readFile(t, keystore.Path(dataDir)))
	if _, err := keystore.OpenKeyring(dataDir, node); !errors.Is(err, keystore.ErrCorruptKey) || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenKeyring with node.key copied into accounts/ = %v, want ErrCorruptKey naming %s", err, path)
	}
}

func TestKeyringUnexpectedFiles(t *testing.T) {
	dataDir := t.TempDir()
	node := keyringtest.NewNode(t)
	did := keyringtest.Create(t, mustOpenKeyring(t, dataDir, node))
	dir := filepath.Join(dataDir, keystore.AccountsDir)
	id := strings.TrimPrefix(string(did), "did:key:")

	tests := []struct {
		name  string
		file  string
		isDir bool
	}{
		{"text file", "notes.txt", false},
		{"hidden file", ".DS_Store", false},
		{"invalid DID name", "z6MkNotABase58DIDAtAll0OIl.key", false},
		{"full DID as the name", "did:key:" + id + ".key", false},
		{"name without extension", id, false},
		{"backup copy", id + ".key.bak", false},
		{"temp file of an unknown name", ".notes.tmp-123", false},
		{"temp-named directory", ".keyring.tmp-123", true},
		{"subdirectory", "backup", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if tt.isDir {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				writeKeyFile(t, path, []byte("x"))
			}
			defer os.Remove(path)
			_, err := keystore.OpenKeyring(dataDir, node)
			if !errors.Is(err, keystore.ErrUnexpectedFile) || !strings.Contains(err.Error(), path) {
				t.Fatalf("OpenKeyring = %v, want ErrUnexpectedFile naming %s", err, path)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("OpenKeyring removed the unexpected file: %v", err)
			}
		})
	}

	t.Run("account name that is a directory", func(t *testing.T) {
		path := keystore.AccountPath(dataDir, keyringtest.NewNode(t).DID())
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		if _, err := keystore.OpenKeyring(dataDir, node); !errors.Is(err, keystore.ErrCorruptKey) || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenKeyring = %v, want ErrCorruptKey naming %s", err, path)
		}
	})
	t.Run("keyring file missing", func(t *testing.T) {
		path := filepath.Join(dir, "keyring")
		orig := readFile(t, path)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		defer writeKeyFile(t, path, orig)
		if _, err := keystore.OpenKeyring(dataDir, node); !errors.Is(err, keystore.ErrCorruptKey) || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenKeyring = %v, want ErrCorruptKey naming %s", err, path)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Error("OpenKeyring wrote a new keyring file over existing accounts")
		}
	})
	t.Run("accounts is a file", func(t *testing.T) {
		d := t.TempDir()
		writeKeyFile(t, filepath.Join(d, keystore.AccountsDir), []byte("x"))
		if _, err := keystore.OpenKeyring(d, node); err == nil {
			t.Error("OpenKeyring accepted a file named accounts")
		}
	})
	if _, err := keystore.OpenKeyring(dataDir, node); err != nil {
		t.Errorf("OpenKeyring once the files are gone: %v", err)
	}
}

func TestKeyringRemovesLeftoverTempFiles(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			dataDir := t.TempDir()
			node := keyringtest.NewNode(t)
			k := mustOpenKeyring(t, dataDir, node, mode.opts...)
			did := keyringtest.Create(t, k)
			dir := filepath.Join(dataDir, keystore.AccountsDir)
			want := dirNames(t, dir)

			// What a crash between the temporary write and its link leaves.
			crashed := accountName(keyringtest.NewNode(t).DID())
			for _, name := range []string{"." + crashed + ".tmp-123456", ".keyring.tmp-42", "." + accountName(did) + ".tmp-7"} {
				writeKeyFile(t, filepath.Join(dir, name), []byte("-----BEGIN PRIV")) // partly written
			}
			var logs bytes.Buffer
			again := mustOpenKeyring(t, dataDir, node, append(slices.Clone(mode.opts), keystore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))...)
			if got := dirNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("accounts dir holds %q after open, want %q", got, want)
			}
			if !slices.Equal(again.DIDs(), k.DIDs()) {
				t.Errorf("accounts %v, want %v", again.DIDs(), k.DIDs())
			}
			if !strings.Contains(logs.String(), ".tmp-123456") {
				t.Errorf("the removal is not logged: %s", logs.String())
			}
		})
	}
	t.Run("first open", func(t *testing.T) {
		// A crash while writing the keyring file of a new keyring.
		dataDir := t.TempDir()
		dir := filepath.Join(dataDir, keystore.AccountsDir)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeKeyFile(t, filepath.Join(dir, ".keyring.tmp-99"), nil)
		mustOpenKeyring(t, dataDir, keyringtest.NewNode(t))
		if got := dirNames(t, dir); !slices.Equal(got, []string{"keyring"}) {
			t.Errorf("accounts dir holds %q", got)
		}
	})
}

// Many goroutines creating at once get distinct accounts, every one of
// them on disk when Create returns.
func TestKeyringConcurrentCreateDurable(t *testing.T) {
	for _, mode := range keyringModes {
		t.Run(mode.name, func(t *testing.T) {
			dataDir := t.TempDir()
			node := keyringtest.NewNode(t)
			k := mustOpenKeyring(t, dataDir, node, mode.opts...)
			const goroutines, each = 16, 8
			var (
				mu   sync.Mutex
				dids []identity.DID
				wg   sync.WaitGroup
			)
			for range goroutines {
				wg.Go(func() {
					for range each {
						did, err := k.Create(context.Background())
						if err != nil {
							t.Errorf("Create: %v", err)
							return
						}
						// Durable before Create returned: a new open sees it.
						if _, err := os.Stat(keystore.AccountPath(dataDir, did)); err != nil {
							t.Errorf("Create returned %s before its file exists: %v", did, err)
						}
						mu.Lock()
						dids = append(dids, did)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(dids)
			if len(slices.Compact(slices.Clone(dids))) != goroutines*each {
				t.Fatalf("%d distinct accounts from %d Creates", len(slices.Compact(slices.Clone(dids))), goroutines*each)
			}
			again := mustOpenKeyring(t, dataDir, node, mode.opts...)
			want := append([]identity.DID{node.DID()}, dids...)
			if got := again.DIDs(); !slices.Equal(got, want) {
				t.Fatalf("reopened keyring holds %d accounts, want %d", len(got), len(want))
			}
			keyringtest.CheckSigns(t, again, want, []byte("durable"))
			if n := len(dirNames(t, filepath.Join(dataDir, keystore.AccountsDir))); n != 1+goroutines*each {
				t.Errorf("%d files in accounts/, want the keyring file and %d accounts", n, goroutines*each)
			}
		})
	}
}

// A keyring holding more accounts than its bound opens with all of them and
// creates no more.
func TestKeyringOverBoundOpens(t *testing.T) {
	dataDir := t.TempDir()
	node := keyringtest.NewNode(t)
	k := mustOpenKeyring(t, dataDir, node)
	for range 3 {
		keyringtest.Create(t, k)
	}
	small := mustOpenKeyring(t, dataDir, node, keystore.WithMaxAccounts(2))
	if got := small.DIDs(); !slices.Equal(got, k.DIDs()) {
		t.Errorf("DIDs() = %v, want %v", got, k.DIDs())
	}
	keyringtest.CheckSigns(t, small, small.DIDs(), []byte("m"))
	if _, err := small.Create(context.Background()); !errors.Is(err, identity.ErrKeyringFull) {
		t.Errorf("Create = %v, want ErrKeyringFull", err)
	}
}

func TestKeyringCreateFailures(t *testing.T) {
	node := keyringtest.NewNode(t)
	if _, err := keystore.OpenKeyring(t.TempDir(), nil); err == nil {
		t.Error("OpenKeyring with no node identity succeeded")
	}

	// An exhausted random source: an error, and nothing written.
	dataDir := t.TempDir()
	k := mustOpenKeyring(t, dataDir, node, keystore.WithRand(bytes.NewReader(nil)))
	if _, err := k.Create(context.Background()); err == nil {
		t.Error("Create from an empty source succeeded")
	}
	if got := dirNames(t, filepath.Join(dataDir, keystore.AccountsDir)); !slices.Equal(got, []string{"keyring"}) {
		t.Errorf("a failed Create left %q", got)
	}

	// A repeating source: the second key is the first; refused.
	seed := bytes.Repeat([]byte{3}, ed25519.SeedSize)
	dataDir = t.TempDir()
	k = mustOpenKeyring(t, dataDir, node, keystore.WithRand(bytes.NewReader(slices.Concat(seed, seed))))
	did := keyringtest.Create(t, k)
	if want := identity.New(ed25519.NewKeyFromSeed(seed)).DID(); did != want {
		t.Errorf("Create from the injected source = %s, want %s", did, want)
	}
	if _, err := k.Create(context.Background()); err == nil {
		t.Error("Create of a key already held succeeded")
	}
	if n := len(k.DIDs()); n != 2 {
		t.Errorf("%d accounts, want 2", n)
	}

	// A write that fails (the directory is gone, a file in its place):
	// Create fails, and the keyring is unchanged and keeps working.
	dataDir = t.TempDir()
	k = mustOpenKeyring(t, dataDir, node, keystore.WithMaxAccounts(2))
	dir := filepath.Join(dataDir, keystore.AccountsDir)
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	writeKeyFile(t, dir, []byte("x"))
	if _, err := k.Create(context.Background()); err == nil {
		t.Error("Create with no accounts directory succeeded")
	}
	if n := len(k.DIDs()); n != 1 {
		t.Errorf("%d accounts after a failed Create", n)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".moved", dir); err != nil {
		t.Fatal(err)
	}
	keyringtest.Create(t, k) // the failed Create released its slot: 2 of 2
}

func TestKeyringLogsNoKeyMaterial(t *testing.T) {
	dataDir := t.TempDir()
	var logs bytes.Buffer
	k := mustOpenKeyring(t, dataDir, keyringtest.NewNode(t), keystore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	did := keyringtest.Create(t, k)
	path := keystore.AccountPath(dataDir, did)
	if !strings.Contains(logs.String(), string(did)) || !strings.Contains(logs.String(), path) {
		t.Errorf("creation log lacks the DID or path: %s", logs.String())
	}
	block := decodePEM(t, path)
	for _, line := range strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(block))), "\n")[1:3] {
		if strings.Contains(logs.String(), line) {
			t.Errorf("log shows key material: %s", logs.String())
		}
	}
}

func TestModuleProvidesKeyring(t *testing.T) {
	dataDir := t.TempDir()
	var (
		id *identity.Identity
		k  identity.Keyring
	)
	app := fx.New(keystore.Module, fx.NopLogger,
		fx.Supply(keystore.Config{DataDir: dataDir}, slog.New(slog.DiscardHandler)),
		fx.Populate(&id, &k))
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	if got := k.DIDs(); !slices.Equal(got, []identity.DID{id.DID()}) {
		t.Errorf("keyring accounts %v, want the node's %s only", got, id.DID())
	}
	did := keyringtest.Create(t, k)
	if _, err := os.Stat(keystore.AccountPath(dataDir, did)); err != nil {
		t.Errorf("the module's keyring is not under the data dir: %v", err)
	}
	if _, err := os.Stat(keystore.Path(dataDir)); err != nil {
		t.Errorf("node.key: %v", err)
	}
}

func mustOpenKeyring(t testing.TB, dataDir string, node *identity.Identity, opts ...keystore.Option) identity.Keyring {
	t.Helper()
	k, err := keystore.OpenKeyring(dataDir, node, opts...)
	if err != nil {
		t.Fatalf("OpenKeyring: %v", err)
	}
	return k
}

func accountName(did identity.DID) string {
	return strings.TrimPrefix(string(did), "did:key:") + ".key"
}

func decodePEM(t *testing.T, path string) *pem.Block {
	t.Helper()
	block, rest := pem.Decode(readFile(t, path))
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s is not one PEM block", path)
	}
	return block
}

// nodeKeyFile returns an encrypted node key file (a passphrase file, not an
// account file of either kind).
func nodeKeyFile(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := keystore.Open(dir, keystore.WithPassphrase(pass), cheap); err != nil {
		t.Fatal(err)
	}
	return readFile(t, keystore.Path(dir))
}

func flipBit(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)/2] ^= 1
	return c
}

// snapshot returns the names, modes and contents of the files under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fmt.Sprint(fi.Mode())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[path] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
