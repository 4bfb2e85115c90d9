package keystore_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cheap are argon2id parameters that cost microseconds.
var cheap = keystore.WithKDFParams(keystore.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})

var pass = []byte("correct horse battery staple")

func TestOpenCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "node") // missing: Open creates it
	var logs bytes.Buffer
	id, err := keystore.Open(dir, keystore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	assertMode(t, dir, 0o700)
	path := keystore.Path(dir)
	assertMode(t, path, 0o600)
	if entries := dirNames(t, dir); len(entries) != 1 || entries[0] != keystore.FileName {
		t.Errorf("data dir holds %q, want only %s (no temporary files)", entries, keystore.FileName)
	}
	if !strings.Contains(logs.String(), string(id.DID())) || !strings.Contains(logs.String(), path) {
		t.Errorf("creation log %q lacks the DID or path", logs.String())
	}

	// The file is plain PKCS#8 PEM holding this identity's key.
	data := readFile(t, path)
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(block.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("key file is not a single PRIVATE KEY PEM block:\n%s", data)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("PKCS#8: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("key type %T", k)
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), id.PublicKey()) {
		t.Error("file key is not the identity's key")
	}

	again, err := keystore.Open(dir)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if again.DID() != id.DID() {
		t.Errorf("second Open DID %s, first %s", again.DID(), id.DID())
	}
	if p1, p2 := mustPeerID(t, id), mustPeerID(t, again); p1 != p2 {
		t.Errorf("peer ID changed across Open: %s then %s", p1, p2)
	}
	if !bytes.Equal(readFile(t, path), data) {
		t.Error("second Open rewrote the key file")
	}
	msg := []byte("m")
	if err := identity.Verify(id.DID(), msg, again.Sign(msg)); err != nil {
		t.Errorf("reloaded key's signature: %v", err)
	}
}

func TestOpenKeepsExistingDirMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Open(dir); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o750)
}

func TestOpenUsesRand(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, ed25519.SeedSize)
	id, err := keystore.Open(t.TempDir(), keystore.WithRand(bytes.NewReader(seed)))
	if err != nil {
		t.Fatal(err)
	}
	if want := identity.New(ed25519.NewKeyFromSeed(seed)).DID(); id.DID() != want {
		t.Errorf("DID %s, want %s from the injected source", id.DID(), want)
	}
	if _, err := keystore.Open(t.TempDir(), keystore.WithRand(bytes.NewReader(nil))); err == nil {
		t.Error("Open with an empty random source succeeded")
	}
}

func TestEncryptedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	id, err := keystore.Open(dir, keystore.WithPassphrase(pass), cheap)
	if err != nil {
		t.Fatalf("create encrypted: %v", err)
	}
	path := keystore.Path(dir)
	assertMode(t, path, 0o600)
	data := readFile(t, path)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "ICN ENCRYPTED PRIVATE KEY" {
		t.Fatalf("encrypted key file:\n%s", data)
	}
	want := map[string]string{
		"Version": "1", "KDF": "argon2id", "Cipher": "AES-256-GCM",
		"KDF-Time": "1", "KDF-Memory-KiB": "64", "KDF-Threads": "1",
	}
	for k, v := range want {
		if block.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, block.Headers[k], v)
		}
	}
	if salt, err := base64.StdEncoding.DecodeString(block.Headers["KDF-Salt"]); err != nil || len(salt) != 16 {
		t.Errorf("salt header %q: %d bytes, %v", block.Headers["KDF-Salt"], len(salt), err)
	}
	if nonce, err := base64.StdEncoding.DecodeString(block.Headers["Nonce"]); err != nil || len(nonce) != 12 {
		t.Errorf("nonce header %q: %d bytes, %v", block.Headers["Nonce"], len(nonce), err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		t.Error("encrypted body parses as plain PKCS#8")
	}

	again, err := keystore.Open(dir, keystore.WithPassphrase(pass))
	if err != nil {
		t.Fatalf("reopen encrypted: %v", err)
	}
	if again.DID() != id.DID() || mustPeerID(t, again) != mustPeerID(t, id) {
		t.Errorf("reopened identity %s, want %s", again.DID(), id.DID())
	}
}

func TestOpenErrors(t *testing.T) {
	encDir := t.TempDir()
	if _, err := keystore.Open(encDir, keystore.WithPassphrase(pass), cheap); err != nil {
		t.Fatal(err)
	}
	plainDir := t.TempDir()
	if _, err := keystore.Open(plainDir); err != nil {
		t.Fatal(err)
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
		{"empty passphrase", encDir, []keystore.Option{keystore.WithPassphrase([]byte{})}, keystore.ErrEmptyPassphrase},
		{"nil passphrase", encDir, []keystore.Option{keystore.WithPassphrase(nil)}, keystore.ErrEmptyPassphrase},
		{"passphrase for plain file", plainDir, []keystore.Option{keystore.WithPassphrase(pass)}, keystore.ErrNotEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := readFile(t, keystore.Path(tt.dir))
			id, err := keystore.Open(tt.dir, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, %v; want %v", id, err, tt.want)
			}
			if id != nil {
				t.Error("Open returned an identity with an error")
			}
			if tt.want != keystore.ErrEmptyPassphrase && !strings.Contains(err.Error(), keystore.Path(tt.dir)) {
				t.Errorf("error %q does not name the path", err)
			}
			if !bytes.Equal(readFile(t, keystore.Path(tt.dir)), before) {
				t.Error("a failed Open changed the key file")
			}
		})
	}
}

func TestOpenEmptyPassphraseCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, err := keystore.Open(dir, keystore.WithPassphrase(nil)); !errors.Is(err, keystore.ErrEmptyPassphrase) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(keystore.Path(dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("key file exists after a refused Open: %v", err)
	}
}

func TestOpenBadKDFParams(t *testing.T) {
	for _, p := range []keystore.KDFParams{
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 7, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 9}, // under 8 KiB per thread
		{Time: 65, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 4<<20 + 1, Threads: 1},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", p)
		}
		if _, err := keystore.Open(t.TempDir(), keystore.WithPassphrase(pass), keystore.WithKDFParams(p)); err == nil {
			t.Errorf("Open with %+v succeeded", p)
		}
	}
	if err := keystore.DefaultKDFParams().Validate(); err != nil {
		t.Errorf("default params: %v", err)
	}
	if got, want := keystore.DefaultKDFParams(), (keystore.KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 2}); got != want {
		t.Errorf("DefaultKDFParams() = %+v, want %+v", got, want)
	}
}

func TestInsecurePermissions(t *testing.T) {
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o660, 0o700, 0o666, 0o601} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := keystore.Open(dir); err != nil {
				t.Fatal(err)
			}
			path := keystore.Path(dir)
			before := readFile(t, path)
			chmod(t, path, mode)
			_, err := keystore.Open(dir)
			if !errors.Is(err, keystore.ErrInsecurePermissions) {
				t.Fatalf("Open of a %#o file: %v, want ErrInsecurePermissions", mode, err)
			}
			pe, ok := errors.AsType[*keystore.InsecurePermissionsError](err)
			if !ok || pe.Path != path || pe.Mode != mode {
				t.Errorf("error %#v, want path %s mode %#o", pe, path, mode)
			}
			if octal := fmt.Sprintf("%#o", uint32(mode)); !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), octal) {
				t.Errorf("error text %q does not name the path and mode %s", err, octal)
			}
			assertMode(t, path, mode) // refused, not repaired
			if !bytes.Equal(readFile(t, path), before) {
				t.Error("the key file changed")
			}
			if err := keystore.Encrypt(dir, pass, cheap); !errors.Is(err, keystore.ErrInsecurePermissions) {
				t.Errorf("Encrypt of a %#o file: %v, want ErrInsecurePermissions", mode, err)
			}
		})
	}
	t.Run("0400 is fine", func(t *testing.T) {
		dir := t.TempDir()
		id, err := keystore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		chmod(t, keystore.Path(dir), 0o400)
		again, err := keystore.Open(dir)
		if err != nil || again.DID() != id.DID() {
			t.Errorf("Open of a 0400 file: %v, %v", again, err)
		}
	})
}

func TestTamperedEncryptedFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := keystore.Open(dir, keystore.WithPassphrase(pass), cheap); err != nil {
		t.Fatal(err)
	}
	path := keystore.Path(dir)
	orig := readFile(t, path)
	block, _ := pem.Decode(orig)

	reencode := func(edit func(b *pem.Block)) []byte {
		b := &pem.Block{Type: block.Type, Headers: map[string]string{}, Bytes: bytes.Clone(block.Bytes)}
		for k, v := range block.Headers {
			b.Headers[k] = v
		}
		edit(b)
		return pem.EncodeToMemory(b)
	}
	flipB64 := func(s string) string {
		raw, _ := base64.StdEncoding.DecodeString(s)
		raw[0] ^= 1
		return base64.StdEncoding.EncodeToString(raw)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"ciphertext bit", reencode(func(b *pem.Block) { b.Bytes[0] ^= 1 }), keystore.ErrWrongPassphrase},
		{"tag bit", reencode(func(b *pem.Block) { b.Bytes[len(b.Bytes)-1] ^= 1 }), keystore.ErrWrongPassphrase},
		{"truncated ciphertext", reencode(func(b *pem.Block) { b.Bytes = b.Bytes[:len(b.Bytes)-1] }), keystore.ErrWrongPassphrase},
		{"ciphertext shorter than tag", reencode(func(b *pem.Block) { b.Bytes = b.Bytes[:15] }), keystore.ErrCorruptKey},
		{"salt", reencode(func(b *pem.Block) { b.Headers["KDF-Salt"] = flipB64(b.Headers["KDF-Salt"]) }), keystore.ErrWrongPassphrase},
		{"nonce", reencode(func(b *pem.Block) { b.Headers["Nonce"] = flipB64(b.Headers["Nonce"]) }), keystore.ErrWrongPassphrase},
		{"time", reencode(func(b *pem.Block) { b.Headers["KDF-Time"] = "2" }), keystore.ErrWrongPassphrase},
		{"memory", reencode(func(b *pem.Block) { b.Headers["KDF-Memory-KiB"] = "72" }), keystore.ErrWrongPassphrase},
		{"threads", reencode(func(b *pem.Block) { b.Headers["KDF-Threads"] = "2" }), keystore.ErrWrongPassphrase},
		{"time with leading zero", reencode(func(b *pem.Block) { b.Headers["KDF-Time"] = "01" }), keystore.ErrCorruptKey},
		{"huge memory", reencode(func(b *pem.Block) { b.Headers["KDF-Memory-KiB"] = "4294967295" }), keystore.ErrCorruptKey},
		{"zero threads", reencode(func(b *pem.Block) { b.Headers["KDF-Threads"] = "0" }), keystore.ErrCorruptKey},
		{"version", reencode(func(b *pem.Block) { b.Headers["Version"] = "2" }), keystore.ErrCorruptKey},
		{"kdf", reencode(func(b *pem.Block) { b.Headers["KDF"] = "scrypt" }), keystore.ErrCorruptKey},
		{"cipher", reencode(func(b *pem.Block) { b.Headers["Cipher"] = "AES-128-GCM" }), keystore.ErrCorruptKey},
		{"extra header", reencode(func(b *pem.Block) { b.Headers["Comment"] = "hi" }), keystore.ErrCorruptKey},
		{"missing header", reencode(func(b *pem.Block) { delete(b.Headers, "Nonce") }), keystore.ErrCorruptKey},
		{"short salt", reencode(func(b *pem.Block) { b.Headers["KDF-Salt"] = "AAAA" }), keystore.ErrCorruptKey},
		{"block type", reencode(func(b *pem.Block) { b.Type = "ENCRYPTED PRIVATE KEY" }), keystore.ErrCorruptKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeKeyFile(t, path, tt.data)
			_, err := keystore.Open(dir, keystore.WithPassphrase(pass))
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(readFile(t, path), tt.data) {
				t.Error("Open changed the tampered file")
			}
		})
	}
	writeKeyFile(t, path, orig)
	if _, err := keystore.Open(dir, keystore.WithPassphrase(pass)); err != nil {
		t.Errorf("the untampered file no longer opens: %v", err)
	}
}

func TestCorruptPlainFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := keystore.Open(dir); err != nil {
		t.Fatal(err)
	}
	path := keystore.Path(dir)
	orig := readFile(t, path)
	block, _ := pem.Decode(orig)

	ecKey := mustECDSAPKCS8(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"whitespace", []byte("\n \n")},
		{"garbage", []byte("not a key")},
		{"raw DER", block.Bytes},
		{"leading text", append([]byte("junk\n"), orig...)},
		{"trailing text", append(bytes.Clone(orig), "junk\n"...)},
		{"two blocks", append(bytes.Clone(orig), orig...)},
		{"truncated PEM", orig[:len(orig)-10]},
		{"bad base64", bytes.Replace(orig, []byte("\n"), []byte("\n!"), 2)},
		{"RSA block type", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: block.Bytes})},
		{"headers on plain block", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes})},
		{"truncated DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)-1]})},
		{"ecdsa key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecKey})},
		{"too large", append(bytes.Clone(orig), bytes.Repeat([]byte(" "), 20<<10)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeKeyFile(t, path, tt.data)
			_, err := keystore.Open(dir)
			if !errors.Is(err, keystore.ErrCorruptKey) {
				t.Fatalf("Open = %v, want ErrCorruptKey", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			if !bytes.Equal(readFile(t, path), tt.data) {
				t.Error("Open overwrote the corrupt file")
			}
		})
	}

	t.Run("directory", func(t *testing.T) {
		d := t.TempDir()
		if err := os.Mkdir(keystore.Path(d), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := keystore.Open(d); !errors.Is(err, keystore.ErrCorruptKey) {
			t.Errorf("Open of a directory named node.key = %v, want ErrCorruptKey", err)
		}
	})
}

func TestEncrypt(t *testing.T) {
	dir := t.TempDir()
	id, err := keystore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := keystore.Encrypt(dir, pass, cheap, keystore.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil)))); err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	path := keystore.Path(dir)
	assertMode(t, path, 0o600)
	if block, _ := pem.Decode(readFile(t, path)); block == nil || block.Type != "ICN ENCRYPTED PRIVATE KEY" {
		t.Fatal("Encrypt did not write an encrypted file")
	}
	if entries := dirNames(t, dir); len(entries) != 1 {
		t.Errorf("data dir holds %q after Encrypt, want only the key file", entries)
	}
	if !strings.Contains(logs.String(), string(id.DID())) {
		t.Errorf("Encrypt log %q lacks the DID", logs.String())
	}

	if _, err := keystore.Open(dir); !errors.Is(err, keystore.ErrPassphraseRequired) {
		t.Errorf("Open without passphrase after Encrypt = %v, want ErrPassphraseRequired", err)
	}
	again, err := keystore.Open(dir, keystore.WithPassphrase(pass))
	if err != nil {
		t.Fatalf("Open after Encrypt: %v", err)
	}
	if again.DID() != id.DID() || mustPeerID(t, again) != mustPeerID(t, id) {
		t.Errorf("identity after Encrypt %s, before %s", again.DID(), id.DID())
	}

	before := readFile(t, path)
	if err := keystore.Encrypt(dir, []byte("other"), cheap); !errors.Is(err, keystore.ErrAlreadyEncrypted) {
		t.Errorf("second Encrypt = %v, want ErrAlreadyEncrypted", err)
	}
	if !bytes.Equal(readFile(t, path), before) {
		t.Error("a refused Encrypt changed the file")
	}
}

func TestEncryptErrors(t *testing.T) {
	if err := keystore.Encrypt(t.TempDir(), pass, cheap); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Encrypt of a missing file = %v, want fs.ErrNotExist", err)
	}
	dir := t.TempDir()
	if _, err := keystore.Open(dir); err != nil {
		t.Fatal(err)
	}
	if err := keystore.Encrypt(dir, nil, cheap); !errors.Is(err, keystore.ErrEmptyPassphrase) {
		t.Errorf("Encrypt with no passphrase = %v, want ErrEmptyPassphrase", err)
	}
	// The passphrase argument wins over a WithPassphrase option.
	if err := keystore.Encrypt(dir, pass, cheap, keystore.WithPassphrase([]byte("option"))); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Open(dir, keystore.WithPassphrase(pass)); err != nil {
		t.Errorf("Open with the argument passphrase: %v", err)
	}
	corruptDir := t.TempDir()
	writeKeyFile(t, keystore.Path(corruptDir), []byte("junk"))
	if err := keystore.Encrypt(corruptDir, pass, cheap); !errors.Is(err, keystore.ErrCorruptKey) {
		t.Errorf("Encrypt of a corrupt file = %v, want ErrCorruptKey", err)
	}
}

// Two nodes started together on one empty data dir end up with one key.
func TestConcurrentFirstOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 8
	dids := make([]identity.DID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, err := keystore.Open(dir)
			errs[i] = err
			if err == nil {
				dids[i] = id.DID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if dids[i] != dids[0] {
			t.Errorf("Open %d got %s, Open 0 got %s", i, dids[i], dids[0])
		}
	}
	if final, err := keystore.Open(dir); err != nil || final.DID() != dids[0] {
		t.Errorf("file holds %v (%v), want %s", final, err, dids[0])
	}
	if entries := dirNames(t, dir); len(entries) != 1 {
		t.Errorf("data dir holds %q, want only the key file", entries)
	}
}

func TestSymlinkedKeyFile(t *testing.T) {
	src := t.TempDir()
	id, err := keystore.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(keystore.Path(src), keystore.Path(dir)); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	got, err := keystore.Open(dir)
	if err != nil || got.DID() != id.DID() {
		t.Errorf("Open through a symlink = %v, %v; want %s", got, err, id.DID())
	}
}

// openssl reads the files Open writes, and Open reads the keys openssl makes.
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	id, err := keystore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", keystore.Path(dir), "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.(ed25519.PublicKey), id.PublicKey()) {
		t.Error("openssl reads another public key from the key file")
	}

	dir2 := t.TempDir()
	path := keystore.Path(dir2)
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", path).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	chmod(t, path, 0o600)
	id2, err := keystore.Open(dir2)
	if err != nil {
		t.Fatalf("Open of an openssl key: %v", err)
	}
	out, err = exec.Command(openssl, "pkey", "-in", path, "-pubout", "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	pub2, err := x509.ParsePKIXPublicKey(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub2.(ed25519.PublicKey), id2.PublicKey()) {
		t.Error("Open reads another key than openssl made")
	}
}

func TestErrorsNeverShowKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := keystore.Open(dir); err != nil {
		t.Fatal(err)
	}
	path := keystore.Path(dir)
	data := readFile(t, path)
	block, _ := pem.Decode(data)
	body := strings.Join(strings.Split(strings.TrimSpace(string(data)), "\n")[1:2], "")

	_, err := keystore.Open(dir, keystore.WithPassphrase(pass))
	chmod(t, path, 0o644)
	_, err2 := keystore.Open(dir)
	for _, e := range []error{err, err2} {
		if e == nil {
			t.Fatal("expected an error")
		}
		if strings.Contains(e.Error(), body) || bytes.Contains([]byte(e.Error()), block.Bytes[16:]) {
			t.Errorf("error shows key material: %v", e)
		}
	}
}

func mustECDSAPKCS8(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustPeerID(t *testing.T, id *identity.Identity) string {
	t.Helper()
	p, err := id.PeerID()
	if err != nil {
		t.Fatal(err)
	}
	return p.String()
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", path, got, want)
	}
}

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeKeyFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, 0o600)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
