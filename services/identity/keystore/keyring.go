package keystore

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// AccountsDir is the name of the keyring's directory in the data dir.
const AccountsDir = "accounts"

// AccountPath returns the path of the file holding the key of account did
// in the keyring under dataDir.
func AccountPath(dataDir string, did identity.DID) string {
	return filepath.Join(dataDir, AccountsDir, accountFileName(did))
}

// WithMaxAccounts bounds the number of accounts OpenKeyring's keyring holds,
// the node's own included (default identity.MaxAccounts; n <= 0 means the
// default). Create fails with identity.ErrKeyringFull at the bound. A keyring
// that already holds more opens, and creates no more.
func WithMaxAccounts(n int) Option {
	return func(o *options) { o.maxAccounts = n }
}

// diskKeyring is the identity.Keyring of OpenKeyring.
type diskKeyring struct {
	dir     string
	node    *identity.Identity
	max     int
	dataKey []byte // nil: account files are plain
	log     *slog.Logger

	randMu sync.Mutex // serializes reads of rand, which need not be safe for concurrent use
	rand   io.Reader

	mu      sync.RWMutex
	keys    map[identity.DID]*identity.Identity // the other accounts, not the node's own
	sorted  []identity.DID                      // the keys of keys, sorted
	pending int                                 // Creates between reserving a slot and storing the key
}

// OpenKeyring opens the keyring of the accounts this node signs for, kept in
// <dataDir>/accounts, creating the directory (mode 0700) and its keyring file
// on first use. node, the node's identity (from Open), is always the
// keyring's first account; its key stays in node.key and is not copied.
//
// With WithPassphrase the keyring is encrypted: the passphrase unseals the
// keyring's data key in accounts/keyring (one argon2id run, with the
// parameters recorded there; WithKDFParams sets them for a new keyring), and
// each account file is sealed under the data key with AES-256-GCM. The rules
// of Open apply: an encrypted keyring needs the passphrase
// (ErrPassphraseRequired, ErrWrongPassphrase) and a plain one refuses it
// (ErrNotEncrypted).
//
// OpenKeyring reads every account file. It refuses (and changes nothing): a
// directory or file whose mode grants group or others any access
// (*InsecurePermissionsError), a file it cannot read as an account of this
// keyring (ErrCorruptKey), a file that is not the keyring's
// (ErrUnexpectedFile), and account files without a keyring file
// (ErrCorruptKey). Each error names the file. The only files it removes are
// the temporary files a crash during a write leaves behind.
//
// One keyring at a time may have a directory open (one node per data dir).
func OpenKeyring(dataDir string, node *identity.Identity, opts ...Option) (identity.Keyring, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, errors.New("keystore: OpenKeyring needs the node identity")
	}
	dir := filepath.Join(dataDir, AccountsDir)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	accounts, hasKeyring, err := scanAccountsDir(dir, o.log)
	if err != nil {
		return nil, err
	}
	dataKey, err := loadOrCreateKeyringFile(dir, hasKeyring, len(accounts), o)
	if err != nil {
		return nil, err
	}

	k := &diskKeyring{
		dir: dir, node: node, max: o.maxAccounts, dataKey: dataKey, log: o.log, rand: o.rand,
		keys: make(map[identity.DID]*identity.Identity, len(accounts)),
	}
	if k.max <= 0 {
		k.max = identity.MaxAccounts
	}
	for _, did := range accounts {
		path := filepath.Join(dir, accountFileName(did))
		if did == node.DID() {
			return nil, fmt.Errorf("%w: %s: holds the node's own key, which belongs in %s only",
				ErrCorruptKey, path, FileName)
		}
		id, err := loadAccount(path, did, dataKey)
		if err != nil {
			return nil, err
		}
		k.keys[did] = id
		k.sorted = append(k.sorted, did)
	}
	slices.Sort(k.sorted)
	if n := 1 + len(k.sorted); n > k.max {
		o.log.Warn("keyring holds more accounts than its bound; it will create no more", "dir", dir, "accounts", n, "max", k.max)
	}
	o.log.Info("opened keyring", "dir", dir, "accounts", 1+len(k.sorted), "encrypted", dataKey != nil)
	return k, nil
}

// checkDir checks that dir is a directory only its owner can access.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s: not a directory (%s)", ErrCorruptKey, dir, fi.Mode().Type())
	}
	// Windows reports mode bits that do not reflect its ACLs.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&^dirMode != 0 {
		return &InsecurePermissionsError{Path: dir, Mode: fi.Mode().Perm(), Dir: true}
	}
	return nil
}

// scanAccountsDir lists dir: the accounts whose files it holds, sorted by
// file name, and whether it holds the keyring file. It removes leftover
// temporary files and refuses any other entry (ErrUnexpectedFile).
func scanAccountsDir(dir string, log *slog.Logger) (accounts []identity.DID, hasKeyring bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("keystore: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if name == keyringFileName {
			hasKeyring = true
			continue
		}
		if did, ok := accountOfFileName(name); ok {
			accounts = append(accounts, did)
			continue
		}
		if isTempFileName(name) && e.Type().IsRegular() {
			// A write that crashed before its rename: never acknowledged.
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, false, fmt.Errorf("keystore: remove leftover temporary file: %w", err)
			}
			log.Warn("removed a leftover temporary key file (an interrupted write)", "path", path)
			continue
		}
		return nil, false, fmt.Errorf("%w: %s (not %s, nor an account file <did without %q>%s; move it elsewhere)",
			ErrUnexpectedFile, path, keyringFileName, didKeyPrefix, accountExt)
	}
	return accounts, hasKeyring, nil
}

// isTempFileName reports whether name is that of a temporary file
// writeAtomic makes for the keyring file or an account file:
// "." + name + ".tmp-" + digits.
func isTempFileName(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, ".tmp-")
	if i < 0 {
		return false
	}
	base, digits := rest[:i], rest[i+len(".tmp-"):]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	if base == keyringFileName {
		return true
	}
	_, ok = accountOfFileName(base)
	return ok
}

// loadOrCreateKeyringFile returns the data key of the keyring in dir (nil if
// it is plain), reading its keyring file, or writing a new one if there is
// none and no account files either.
func loadOrCreateKeyringFile(dir string, exists bool, accounts int, o options) ([]byte, error) {
	path := filepath.Join(dir, keyringFileName)
	if !exists {
		if accounts > 0 {
			return nil, fmt.Errorf("%w: %s is missing, but %s holds %d account files (restore the keyring file with them)",
				ErrCorruptKey, path, dir, accounts)
		}
		data, dataKey, err := encodeKeyringFile(o.passphrase, o.kdf, o.rand)
		if err != nil {
			return nil, err
		}
		switch err := createFile(path, data); {
		case err == nil:
			o.log.Info("created keyring", "path", path, "encrypted", dataKey != nil)
			return dataKey, nil
		case !errors.Is(err, errFileExists):
			clear(dataKey)
			return nil, err
		}
		clear(dataKey) // another process created it first: use theirs
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseKeyringFile(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: open %s: %w", path, err)
	}
	dataKey, err := f.dataKey(o.passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore: open %s: %w", path, err)
	}
	return dataKey, nil
}

// loadAccount reads the account file at path, which must hold did's key.
func loadAccount(path string, did identity.DID, dataKey []byte) (*identity.Identity, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	priv, err := decodeAccountFile(data, did, dataKey)
	if err != nil {
		return nil, fmt.Errorf("keystore: open account %s: %w", path, err)
	}
	defer clear(priv)
	return identity.New(priv), nil
}

// Create makes a new account key, writes its file atomically (temporary
// file, fsync, link, fsync of the directory) and only then adds it to the
// keyring and returns its DID. ctx is checked before the key is made and
// before its file is written; once the write has begun, Create finishes it.
func (k *diskKeyring) Create(ctx context.Context) (identity.DID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := k.reserve(); err != nil {
		return "", err
	}
	did, id, err := k.create(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending--
	if err != nil {
		return "", err
	}
	k.keys[did] = id
	i, _ := slices.BinarySearch(k.sorted, did)
	k.sorted = slices.Insert(k.sorted, i, did)
	return did, nil
}

// reserve takes a slot for a new account, or fails with ErrKeyringFull.
func (k *diskKeyring) reserve() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := 1 + len(k.keys) + k.pending; n >= k.max {
		return fmt.Errorf("%w: it holds %d accounts and is creating %d, at most %d",
			identity.ErrKeyringFull, 1+len(k.keys), k.pending, k.max)
	}
	k.pending++
	return nil
}

// create makes and stores a new key; it does not touch the keyring's maps.
func (k *diskKeyring) create(ctx context.Context) (identity.DID, *identity.Identity, error) {
	seed := make([]byte, ed25519.SeedSize)
	defer clear(seed)
	var nonce []byte
	k.randMu.Lock()
	_, err := io.ReadFull(k.rand, seed)
	if err == nil && k.dataKey != nil {
		nonce = make([]byte, nonceSize)
		_, err = io.ReadFull(k.rand, nonce)
	}
	k.randMu.Unlock()
	if err != nil {
		return "", nil, fmt.Errorf("keystore: generate key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	id := identity.New(priv)
	did := id.DID()
	path := filepath.Join(k.dir, accountFileName(did))
	if k.Has(did) {
		return "", nil, fmt.Errorf("keystore: new key %s is already in the keyring (is the random source repeating?)", did)
	}

	data, err := encodeAccountFile(priv, did, k.dataKey, nonce)
	if err != nil {
		return "", nil, err
	}
	back, err := decodeAccountFile(data, did, k.dataKey)
	if err != nil {
		return "", nil, fmt.Errorf("keystore: new account file does not decode: %w", err)
	}
	clear(back)

	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	switch err := createFile(path, data); {
	case errors.Is(err, errFileExists):
		return "", nil, fmt.Errorf("keystore: new key %s: %s already exists (is the random source repeating?)", did, path)
	case err != nil:
		return "", nil, err
	}
	k.log.Info("created account key", "path", path, "did", did, "encrypted", k.dataKey != nil)
	return did, id, nil
}

func (k *diskKeyring) DIDs() []identity.DID {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]identity.DID, 0, 1+len(k.sorted))
	return append(append(out, k.node.DID()), k.sorted...)
}

func (k *diskKeyring) Has(did identity.DID) bool {
	_, ok := k.lookup(did)
	return ok
}

func (k *diskKeyring) Sign(did identity.DID, msg []byte) ([]byte, error) {
	id, ok := k.lookup(did)
	if !ok {
		return nil, fmt.Errorf("%w: %s", identity.ErrNoKey, did)
	}
	return id.Sign(msg), nil
}

func (k *diskKeyring) lookup(did identity.DID) (*identity.Identity, bool) {
	if did == k.node.DID() {
		return k.node, true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	id, ok := k.keys[did]
	return id, ok
}
