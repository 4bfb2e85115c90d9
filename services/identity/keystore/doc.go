// Package keystore keeps the node key on disk: it is the production source of
// the node's [identity.Identity]. [Open] loads <data dir>/node.key, creating
// it with a fresh Ed25519 key on first start, so the node's DID and libp2p
// peer ID stay the same across restarts. [Encrypt] converts a plain key file
// to an encrypted one in place (for "icnd key encrypt").
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
// # Errors
//
// Callers branch with errors.Is on [ErrPassphraseRequired],
// [ErrWrongPassphrase], [ErrInsecurePermissions] (an
// [*InsecurePermissionsError] carrying the path and mode), [ErrCorruptKey],
// [ErrNotEncrypted], [ErrAlreadyEncrypted] and [ErrEmptyPassphrase]. Every
// error about the key file names its path.
//
// # What it must not do
//
// keystore never logs, prints or returns key material, never overwrites an
// existing key file except in [Encrypt], and makes no signatures: signing is
// the identity package's. It holds no state between calls. The test profile
// does not use it: it uses identity.Generate for an ephemeral identity.
package keystore
