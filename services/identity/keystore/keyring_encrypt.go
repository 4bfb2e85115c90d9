package keystore

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// EncryptKeyring encrypts the keyring under dataDir in place with
// passphrase: a new keyring file seals a new data key, and every account
// file is sealed under it. It returns the number of account files it
// sealed. A data dir without a keyring is left alone (the node creates its
// keyring encrypted when it starts with the passphrase).
//
// It reads every account file before it writes anything, and refuses as
// OpenKeyring does. Files are replaced one at a time, atomically, the
// keyring file first: a crash in between leaves an encrypted keyring with
// some plain account files, which OpenKeyring refuses and a second
// EncryptKeyring with the same passphrase finishes. It fails with
// ErrAlreadyEncrypted when there is nothing left to encrypt. The replaced
// plain files' blocks are not wiped from the disk.
func EncryptKeyring(dataDir string, passphrase []byte, opts ...Option) (sealed int, err error) {
	o, err := newOptions(append(opts, WithPassphrase(passphrase)))
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(dataDir, AccountsDir)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err := checkDir(dir); err != nil {
		return 0, err
	}
	accounts, hasKeyring, err := scanAccountsDir(dir, o.log)
	if err != nil {
		return 0, err
	}
	if !hasKeyring {
		if len(accounts) > 0 {
			return 0, fmt.Errorf("%w: %s is missing, but %s holds %d account files (restore the keyring file with them)",
				ErrCorruptKey, filepath.Join(dir, keyringFileName), dir, len(accounts))
		}
		return 0, nil
	}
	keyringPath := filepath.Join(dir, keyringFileName)
	data, err := readKeyFile(keyringPath)
	if err != nil {
		return 0, err
	}
	f, err := parseKeyringFile(data)
	if err != nil {
		return 0, fmt.Errorf("keystore: encrypt %s: %w", keyringPath, err)
	}

	// The keys still plain, all read before anything is written.
	type plainKey struct {
		did  identity.DID
		path string
		priv ed25519.PrivateKey
	}
	var plain []plainKey
	defer func() {
		for _, k := range plain {
			clear(k.priv)
		}
	}()
	var dataKey []byte
	if f.sealed != nil {
		// Encrypted already: finish an interrupted run.
		if dataKey, err = f.dataKey(passphrase); err != nil {
			return 0, fmt.Errorf("keystore: encrypt %s: %w", keyringPath, err)
		}
		defer clear(dataKey)
	}
	for _, did := range accounts {
		path := filepath.Join(dir, accountFileName(did))
		b, err := readKeyFile(path)
		if err != nil {
			return 0, err
		}
		block, err := decodeOneBlock(b)
		if err != nil {
			return 0, fmt.Errorf("keystore: encrypt %s: %w", path, err)
		}
		if block.Type != blockPlain {
			if dataKey == nil {
				return 0, fmt.Errorf("keystore: encrypt %s: %w", path, corrupt("an encrypted account file in a plain keyring"))
			}
			priv, err := decodeAccountFile(b, did, dataKey) // it must open with this keyring's key
			if err != nil {
				return 0, fmt.Errorf("keystore: encrypt %s: %w", path, err)
			}
			clear(priv)
			continue
		}
		priv, err := decodeAccountFile(b, did, nil)
		if err != nil {
			return 0, fmt.Errorf("keystore: encrypt %s: %w", path, err)
		}
		plain = append(plain, plainKey{did, path, priv})
	}
	if dataKey != nil && len(plain) == 0 {
		return 0, fmt.Errorf("keystore: encrypt %s: %w", dir, ErrAlreadyEncrypted)
	}

	if dataKey == nil {
		file, key, err := encodeKeyringFile(passphrase, o.kdf, o.rand)
		if err != nil {
			return 0, err
		}
		dataKey = key
		defer clear(dataKey)
		if err := replaceFile(keyringPath, file); err != nil {
			return 0, err
		}
		o.log.Info("encrypted keyring", "path", keyringPath)
	}
	for _, k := range plain {
		nonce := make([]byte, nonceSize)
		if _, err := io.ReadFull(o.rand, nonce); err != nil {
			return sealed, fmt.Errorf("keystore: nonce: %w", err)
		}
		file, err := encodeAccountFile(k.priv, k.did, dataKey, nonce)
		if err != nil {
			return sealed, err
		}
		if err := replaceFile(k.path, file); err != nil {
			return sealed, err
		}
		sealed++
	}
	o.log.Info("encrypted account keys", "dir", dir, "sealed", sealed)
	return sealed, nil
}
