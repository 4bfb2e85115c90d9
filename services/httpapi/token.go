package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Token file names under the data dir.
const (
	APITokenFile   = "api.token"
	AdminTokenFile = "admin.token"
)

// ErrInsecureToken: a token file that others may read is refused, not used.
var ErrInsecureToken = errors.New("httpapi: token file readable by others")

// LoadOrCreateToken returns the bearer token kept in path, creating it with
// 32 random bytes (base64url, mode 0600) the first time.
func LoadOrCreateToken(path string) ([]byte, error) {
	tok, err := readToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	tok = []byte(base64.RawURLEncoding.EncodeToString(raw[:]))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("httpapi: token dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readToken(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("httpapi: create token %s: %w", path, err)
	}
	_, werr := f.Write(append(tok, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("httpapi: write token %s: %w", path, err)
	}
	return tok, nil
}

func readToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %s (want 0600)", ErrInsecureToken, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < 16 {
		return nil, fmt.Errorf("httpapi: token in %s is too short (%d bytes)", path, len(tok))
	}
	return tok, nil
}
