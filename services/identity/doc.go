// Package identity owns the node's cryptographic identity: its Ed25519 key
// pair, the node DID (a did:key identifier), signatures, and the libp2p
// identity derived from the same key, so that the node's DID and its libp2p
// peer ID name the same key and stay stable across restarts.
//
// Signatures are made and checked here and nowhere else (DESIGN rule 5):
// [Identity.Sign] signs with the node key and [Verify] checks a signature
// against a DID. Other packages pass DIDs and signatures around as values;
// they never call crypto/ed25519 themselves.
//
// # DIDs
//
// A [DID] is "did:key:z" followed by the base58btc encoding of the multicodec
// varint 0xed 0x01 (ed25519-pub) and the 32-byte public key, as in the W3C
// did:key method. [ParseDID] is strict: it accepts exactly that shape and
// returns an error wrapping [ErrInvalidDID] for anything else, so a DID that
// parses re-encodes to the same string.
//
// # Where the key comes from
//
// This package holds keys in memory only. The production node key lives on
// disk and is loaded (or created on first start) by the sub-package keystore;
// the test profile uses [Generate] with crypto/rand.Reader for an ephemeral
// identity.
//
// # Keyrings
//
// A [Keyring] holds the keys of the accounts this node signs for (the
// ledger's local accounts): the node's own identity, always listed first,
// and the accounts made with [Keyring.Create], at most [MaxAccounts] by
// default. [Keyring.Sign] signs for any of them and fails with [ErrNoKey]
// for an account whose key is not held; Create fails with [ErrKeyringFull]
// at the bound. [NewMemoryKeyring] keeps the accounts in memory (the test
// profile); keystore.OpenKeyring keeps them on disk (production). The
// sub-package keyringtest checks an implementation against the contract.
//
// # What it must not do
//
// identity does no I/O, holds no package-level state and never logs or
// formats the private key: an [Identity] prints and logs as its DID only. A
// Keyring never exports a private key: its methods take and return DIDs,
// messages and signatures, never keys or Identities.
package identity
