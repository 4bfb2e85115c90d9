package keystore

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// The accounts directory holds one keyring file and one file per account.
//
// The keyring file, "keyring", is one "ICN KEYRING" PEM block. Plain, it has
// a Version header and no body:
//
//	-----BEGIN ICN KEYRING-----
//	Version: 1
//
//	-----END ICN KEYRING-----
//
// Encrypted, it has the headers of an encrypted node key file (Version, KDF,
// KDF-Time, KDF-Memory-KiB, KDF-Threads, KDF-Salt, Cipher, Nonce) and its
// body is the keyring's 32-byte data key sealed with AES-256-GCM under the
// argon2id key of the passphrase, the block type and headers as additional
// data (sealWithPassphrase). Unsealing it is the one argon2id run of an open,
// and checks the passphrase: a wrong one does not open the seal.
//
// An account file is named after the account's DID: the DID without its
// "did:key:" prefix, then ".key" (z6Mk....key). Plain, it is exactly a plain
// node key file: a "PRIVATE KEY" PKCS#8 block, which openssl reads. Encrypted,
// it is an "ICN ACCOUNT KEY" block:
//
//	-----BEGIN ICN ACCOUNT KEY-----
//	Cipher: AES-256-GCM
//	Nonce: <12 bytes, base64>
//	Version: 1
//
//	<AES-256-GCM(data key, PKCS#8 DER), base64>
//	-----END ICN ACCOUNT KEY-----
//
// whose additional data is the block type, the headers (as for a node key
// file) and the line "Account: <DID>", so a file renamed to another account's
// name, or copied from another keyring, does not open. Either way the key's
// DID must be the one its name says.
const (
	blockKeyring = "ICN KEYRING"
	blockAccount = "ICN ACCOUNT KEY"

	keyringFileName = "keyring"
	accountExt      = ".key"
	didKeyPrefix    = "did:key:"

	dataKeySize = keySize
)

// keyringFile is a parsed keyring file.
type keyringFile struct {
	sealed *keyFile // the sealed data key; nil for a plain keyring
}

// parseKeyringFile parses a keyring file without unsealing it. Every error
// wraps ErrCorruptKey.
func parseKeyringFile(data []byte) (*keyringFile, error) {
	block, err := decodeOneBlock(data)
	if err != nil {
		return nil, err
	}
	if block.Type != blockKeyring {
		return nil, corrupt("PEM block type %q, want %q", block.Type, blockKeyring)
	}
	if _, ok := block.Headers[hdrKDF]; !ok { // plain
		if !maps.Equal(block.Headers, map[string]string{hdrVersion: formatVersion}) || len(block.Bytes) != 0 {
			return nil, corrupt("plain keyring file: headers %q and %d body bytes, want only %s: %s and no body",
				slices.Sorted(maps.Keys(block.Headers)), len(block.Bytes), hdrVersion, formatVersion)
		}
		return &keyringFile{}, nil
	}
	kf, err := parseEncrypted(block)
	if err != nil {
		return nil, err
	}
	if len(kf.ciphertext) != dataKeySize+aesGCMOverhead {
		return nil, corrupt("sealed data key of %d bytes, want %d", len(kf.ciphertext), dataKeySize+aesGCMOverhead)
	}
	return &keyringFile{sealed: kf}, nil
}

// dataKey returns the keyring's data key: nil for a plain keyring, which
// refuses a passphrase (ErrNotEncrypted); for an encrypted one, the key
// unsealed with passphrase (ErrPassphraseRequired, ErrWrongPassphrase).
func (f *keyringFile) dataKey(passphrase []byte) ([]byte, error) {
	if f.sealed == nil {
		if len(passphrase) > 0 {
			return nil, fmt.Errorf("%w: the keyring is not encrypted; refusing to ignore the passphrase given", ErrNotEncrypted)
		}
		return nil, nil
	}
	key, err := f.sealed.open(passphrase)
	if err != nil {
		return nil, err
	}
	if len(key) != dataKeySize { // cannot happen: parseKeyringFile checked the length
		clear(key)
		return nil, corrupt("data key of %d bytes", len(key))
	}
	return key, nil
}

// encodeKeyringFile returns a new keyring file and its data key: plain (and
// a nil key) if passphrase is nil, else a new random data key sealed under
// passphrase.
func encodeKeyringFile(passphrase []byte, p KDFParams, rand io.Reader) (file, dataKey []byte, err error) {
	if passphrase == nil {
		return pem.EncodeToMemory(&pem.Block{Type: blockKeyring, Headers: map[string]string{hdrVersion: formatVersion}}), nil, nil
	}
	dataKey = make([]byte, dataKeySize)
	if _, err := io.ReadFull(rand, dataKey); err != nil {
		return nil, nil, fmt.Errorf("keystore: data key: %w", err)
	}
	file, err = sealWithPassphrase(blockKeyring, dataKey, passphrase, p, rand)
	if err != nil {
		clear(dataKey)
		return nil, nil, err
	}
	return file, dataKey, nil
}

// accountFileName returns the name of the account file of did.
func accountFileName(did identity.DID) string {
	return strings.TrimPrefix(string(did), didKeyPrefix) + accountExt
}

// accountOfFileName returns the DID an account file name names, or false if
// name is not the name of an account file.
func accountOfFileName(name string) (identity.DID, bool) {
	id, ok := strings.CutSuffix(name, accountExt)
	if !ok {
		return "", false
	}
	did, _, err := identity.ParseDID(didKeyPrefix + id)
	if err != nil {
		return "", false
	}
	return did, true
}

// accountHeaders are the headers of an encrypted account file, sorted.
func accountHeaders() []string { return []string{hdrCipher, hdrNonce, hdrVersion} }

// accountAdata is the GCM additional data of an encrypted account file.
func accountAdata(h map[string]string, did identity.DID) []byte {
	return append(additionalData(blockAccount, h), "Account: "+string(did)+"\n"...)
}

// encodeAccountFile returns the account file of priv, whose DID is did:
// plain if dataKey is nil, else sealed under dataKey with nonce.
func encodeAccountFile(priv ed25519.PrivateKey, did identity.DID, dataKey, nonce []byte) ([]byte, error) {
	if dataKey == nil {
		return encodePlain(priv)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keystore: marshal key: %w", err)
	}
	defer clear(der)
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	h := map[string]string{
		hdrVersion: formatVersion,
		hdrCipher:  cipherAESGCM,
		hdrNonce:   base64.StdEncoding.EncodeToString(nonce),
	}
	ct := aead.Seal(nil, nonce, der, accountAdata(h, did))
	return pem.EncodeToMemory(&pem.Block{Type: blockAccount, Headers: h, Bytes: ct}), nil
}

// decodeAccountFile returns the key in the account file of did: a plain file
// if dataKey is nil, else one sealed under dataKey. Every error wraps
// ErrCorruptKey, including a key whose DID is not did.
func decodeAccountFile(data []byte, did identity.DID, dataKey []byte) (ed25519.PrivateKey, error) {
	block, err := decodeOneBlock(data)
	if err != nil {
		return nil, err
	}
	var priv ed25519.PrivateKey
	if dataKey == nil {
		if block.Type != blockPlain {
			return nil, corrupt("PEM block type %q, want %q (the keyring is not encrypted)", block.Type, blockPlain)
		}
		if len(block.Headers) != 0 {
			return nil, corrupt("unexpected PEM headers in a %q block", blockPlain)
		}
		if priv, err = parsePKCS8(block.Bytes); err != nil {
			return nil, err
		}
	} else {
		if priv, err = openAccountBlock(block, did, dataKey); err != nil {
			return nil, err
		}
	}
	if got := identity.DIDFromPublicKey(priv.Public().(ed25519.PublicKey)); got != did {
		clear(priv)
		return nil, corrupt("holds the key of %s, not of the account its name says", got)
	}
	return priv, nil
}

// openAccountBlock opens an encrypted account block.
func openAccountBlock(block *pem.Block, did identity.DID, dataKey []byte) (ed25519.PrivateKey, error) {
	if block.Type != blockAccount {
		return nil, corrupt("PEM block type %q, want %q (the keyring is encrypted; if icnd key encrypt was interrupted, run it again to finish)", block.Type, blockAccount)
	}
	h := block.Headers
	if got, want := slices.Sorted(maps.Keys(h)), accountHeaders(); !slices.Equal(got, want) {
		return nil, corrupt("account key has headers %q, want %q", got, want)
	}
	if v := h[hdrVersion]; v != formatVersion {
		return nil, corrupt("unsupported version %q", v)
	}
	if v := h[hdrCipher]; v != cipherAESGCM {
		return nil, corrupt("unsupported cipher %q", v)
	}
	nonce, err := parseBytes(h, hdrNonce, nonceSize)
	if err != nil {
		return nil, err
	}
	if len(block.Bytes) < aesGCMOverhead {
		return nil, corrupt("ciphertext of %d bytes is shorter than the GCM tag", len(block.Bytes))
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	der, err := aead.Open(nil, nonce, block.Bytes, accountAdata(h, did))
	if err != nil {
		return nil, corrupt("does not decrypt under this keyring's key (altered, renamed from another account, or from another keyring)")
	}
	defer clear(der)
	return parsePKCS8(der)
}
