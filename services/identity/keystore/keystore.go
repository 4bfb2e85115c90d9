package keystore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// FileName is the name of the key file in the data dir.
const FileName = "node.key"

// Path returns the path of the key file in dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// An Option changes how Open, Encrypt and OpenKeyring work.
type Option func(*options)

type options struct {
	passphrase  []byte
	kdf         KDFParams
	rand        io.Reader
	log         *slog.Logger
	maxAccounts int // OpenKeyring only; <= 0: identity.MaxAccounts
}

// WithPassphrase makes Open decrypt an existing encrypted key file, or
// create a new key file encrypted with p, and OpenKeyring likewise for the
// keyring. The passphrase is copied. An empty passphrase is refused
// (ErrEmptyPassphrase).
func WithPassphrase(p []byte) Option {
	p = bytes.Clone(p)
	if p == nil {
		p = []byte{} // given but empty: refused, not taken as "no passphrase"
	}
	return func(o *options) { o.passphrase = p }
}

// WithKDFParams sets the argon2id parameters used to encrypt a new key file
// (Open), a converted one (Encrypt) or a new keyring (OpenKeyring); default
// DefaultKDFParams. Existing files are opened with the parameters recorded in
// them. Tests use cheap parameters such as {Time: 1, MemoryKiB: 64,
// Threads: 1}.
func WithKDFParams(p KDFParams) Option {
	return func(o *options) { o.kdf = p }
}

// WithRand sets the source of new keys, salts and nonces; default
// crypto/rand.Reader. For tests. A keyring serializes its reads, so r need
// not be safe for concurrent use.
func WithRand(r io.Reader) Option {
	return func(o *options) { o.rand = r }
}

// WithLogger sets the logger that records the creation or encryption of a
// key file, and the opening of a keyring (paths and DIDs, never key
// material); default: no logging.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

func newOptions(opts []Option) (options, error) {
	o := options{kdf: DefaultKDFParams(), rand: rand.Reader, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.passphrase != nil && len(o.passphrase) == 0 {
		return o, ErrEmptyPassphrase
	}
	if err := o.kdf.Validate(); err != nil {
		return o, fmt.Errorf("keystore: %w", err)
	}
	return o, nil
}

// Open returns the node identity kept in dir/node.key, creating the file on
// first start with a new key from crypto/rand (or WithRand).
//
// A new file is written atomically with mode 0600, in dir, which is created
// with mode 0700 if missing. It is plain PKCS#8 PEM, or encrypted if
// WithPassphrase is given. If two processes create it at the same time, both
// end up with the key of the one that wrote first.
//
// An existing file is checked before it is read: if its mode grants anything
// beyond owner read and write, Open fails with an *InsecurePermissionsError
// (ErrInsecurePermissions). An encrypted file needs WithPassphrase
// (ErrPassphraseRequired, ErrWrongPassphrase); a plain file given a
// passphrase is refused (ErrNotEncrypted) rather than the passphrase being
// ignored; an unreadable file gives ErrCorruptKey. Open never overwrites an
// existing file, even a corrupt one. Errors name the file's path.
func Open(dir string, opts ...Option) (*identity.Identity, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	path := Path(dir)
	id, err := load(path, o.passphrase)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	id, err = create(dir, path, o)
	if errors.Is(err, errFileExists) {
		return load(path, o.passphrase) // another process created it first
	}
	return id, err
}

// load reads and decodes the key file at path.
func load(path string, passphrase []byte) (*identity.Identity, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	priv, err := decodeKeyFile(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore: open %s: %w", path, err)
	}
	defer clear(priv)
	return identity.New(priv), nil
}

// create makes a new key and writes it to path.
func create(dir, path string, o options) (*identity.Identity, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(o.rand)
	if err != nil {
		return nil, fmt.Errorf("keystore: generate key: %w", err)
	}
	defer clear(priv)
	data, err := encode(priv, o)
	if err != nil {
		return nil, err
	}
	if err := createFile(path, data); err != nil {
		return nil, err
	}
	id := identity.New(priv)
	o.log.Info("created node key", "path", path, "did", id.DID(), "encrypted", o.passphrase != nil)
	return id, nil
}

// encode returns the key file of priv, encrypted if o has a passphrase, and
// checks that it decodes to priv again before anything is written.
func encode(priv ed25519.PrivateKey, o options) ([]byte, error) {
	var data []byte
	var err error
	if o.passphrase != nil {
		data, err = encodeEncrypted(priv, o.passphrase, o.kdf, o.rand)
	} else {
		data, err = encodePlain(priv)
	}
	if err != nil {
		return nil, err
	}
	back, err := decodeKeyFile(data, o.passphrase)
	if err != nil {
		return nil, fmt.Errorf("keystore: new key file does not decode: %w", err)
	}
	defer clear(back)
	if !priv.Equal(back) {
		return nil, errors.New("keystore: new key file decodes to another key")
	}
	return data, nil
}

// Encrypt converts the plain key file in dir to one encrypted with
// passphrase, keeping the key (and so the node's DID and peer ID). The file
// is replaced atomically: a crash leaves either the old or the new file.
// WithKDFParams and WithRand apply; a WithPassphrase option is overridden by
// passphrase.
//
// It fails with ErrAlreadyEncrypted if the file is encrypted, and with the
// errors of Open for a missing, insecure or corrupt file. The replaced plain
// file's blocks are not wiped from the disk.
func Encrypt(dir string, passphrase []byte, opts ...Option) error {
	o, err := newOptions(append(opts, WithPassphrase(passphrase)))
	if err != nil {
		return err
	}
	path := Path(dir)
	data, err := readKeyFile(path)
	if err != nil {
		return err
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		return fmt.Errorf("keystore: encrypt %s: %w", path, err)
	}
	if kf.encrypted {
		return fmt.Errorf("keystore: encrypt %s: %w", path, ErrAlreadyEncrypted)
	}
	priv, err := kf.privateKey(nil)
	if err != nil {
		return fmt.Errorf("keystore: encrypt %s: %w", path, err)
	}
	defer clear(priv)
	sealed, err := encode(priv, o)
	if err != nil {
		return err
	}
	if err := replaceFile(path, sealed); err != nil {
		return err
	}
	o.log.Info("encrypted node key", "path", path, "did", identity.DIDFromPublicKey(priv.Public().(ed25519.PublicKey)))
	return nil
}
