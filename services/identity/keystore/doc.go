// Package keystore keeps the node key on disk: it is the production source of
// the node's [identity.Identity]. [Open] loads <data dir>/node.key, creating
// it with a fresh Ed25519 key on first start, so the node's DID and libp2p
// peer ID stay the same across restarts. [Encrypt] converts a plain key file
// to an encrypted one in place (for "icnd key encrypt"). [OpenKeyring] keeps
// the keys of the node's other accounts under <data dir>/accounts: it is the
// production [identity.Keyring].
//
// # The key file
//
// The file is one PEM block. Unencrypted it is a standard "PRIVATE KEY"
// block (PKCS#8), which openssl reads:
//
//	openssl pkey -in node.key -noout -text
//
// Encrypted (WithPassphrase) it is an "ICN ENCRYPTED PRIVATE KEY" block:
// headers record the format version, the KDF (argon2id) with its time, memory
// and thread parameters and a 16-byte salt, the cipher (AES-256-GCM) and its
// nonce; the body is the PKCS#8 DER sealed with AES-256-GCM under the argon2id
// key, with the block type and all headers as additional data so no header
// can be altered. The parameters are read from the file, so files written
// with older defaults keep opening.
//
// New files are written atomically (temporary file, fsync, link or rename,
// fsync of the directory) with mode 0600 in a directory created with mode
// 0700. An existing file whose mode grants group or others any access is
// refused, not repaired.
//
// # The keyring
//
// <data dir>/accounts (mode 0700) holds a keyring file, "keyring", and one
// file per account, named after its DID without the "did:key:" prefix:
// z6Mk....key. The node's own key stays in node.key only. Plain, an account
// file is a PKCS#8 "PRIVATE KEY" block like node.key, and the keyring file
// only records the format version.
//
// With a passphrase, the keyring file is an argon2id + AES-256-GCM sealed
// block like an encrypted node.key, but what it seals is the keyring's random
// 32-byte data key; each account file is an "ICN ACCOUNT KEY" block, the
// PKCS#8 key sealed with AES-256-GCM under the data key, with the account's
// DID in the additional data. So argon2id runs once per open, not once per
// account (opening 1,000 encrypted accounts takes about a quarter of a second,
// most of it the one argon2id run), a wrong passphrase fails on the keyring
// file with ErrWrongPassphrase, and an account file renamed to another
// account or copied from another keyring does not open.
//
// Account files are written like node.key (temporary file, fsync, link,
// fsync of the directory), so [identity.Keyring.Create] returns only durable
// accounts. OpenKeyring removes the temporary files a crash leaves, and
// refuses anything else it did not write ([ErrUnexpectedFile]), an account
// file it cannot read ([ErrCorruptKey]) and open permissions, naming the
// file; it never skips a file.
//
// # Errors
//
// Callers branch with errors.Is on [ErrPassphraseRequired],
// [ErrWrongPassphrase], [ErrInsecurePermissions] (an
// [*InsecurePermissionsError] carrying the path and mode), [ErrCorruptKey],
// [ErrNotEncrypted], [ErrAlreadyEncrypted], [ErrEmptyPassphrase] and
// [ErrUnexpectedFile]; a keyring's Create and Sign fail with
// identity.ErrKeyringFull and identity.ErrNoKey. Every error about a key
// file names its path.
//
// # What it must not do
//
// keystore never logs, prints or returns key material, never overwrites an
// existing key file except in [Encrypt], deletes no file but a leftover
// temporary one, and makes no signatures: a keyring signs through
// [identity.Identity.Sign]. Open and Encrypt hold no state between calls; a
// keyring holds its accounts' keys in memory and never exports them. The
// test profile does not use it: it uses identity.Generate for an ephemeral
// identity and identity.NewMemoryKeyring for its keyring.
package keystore
