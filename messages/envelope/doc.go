// Package envelope is ICN's signed wire envelope: the one shape every
// message between nodes travels in, whether gossiped or sent over
// /icn/rpc/1. It encodes and decodes envelopes and decides whether a
// received one is acceptable; everything else about a message (what its
// body means, who handles it) belongs to the caller.
//
// # Wire format
//
// An envelope is a CBOR map with short text keys, encoded deterministically
// (definite lengths, shortest integers, keys sorted length-first, as
// messages/block encodes dag-cbor):
//
//	"b"  body        byte string, the message, opaque here
//	"f"  from        text, the sender's DID
//	"n"  nonce       byte string of 16 random bytes
//	"s"  signature   byte string
//	"t"  type        text, e.g. "jobs.bid"
//	"v"  version     unsigned integer, [Version]
//	"to" to          text, the recipient's DID; absent when broadcast
//	"ts" time        integer, unix milliseconds
//
// The signature is the sender's over "icn/envelope/v1\n" followed by the
// same encoding without "s" (see actors/ledger's entries for the same
// pattern), so it covers every other field and cannot be taken for any other
// kind of signed ICN data. A decoder accepts only the canonical encoding: a
// duplicate or unknown key, an indefinite length, a non-shortest integer,
// keys out of order or bytes after the map are all rejected, so the bytes
// the signature covers are exactly the bytes that were decoded.
//
// # Sending and receiving
//
// [Seal] makes an envelope: a fresh nonce, the time, the signature. A
// [Verifier] opens one: [Verifier.Open] checks, in this order, the size
// (before any decoding), the encoding, the version, the type against the
// types the caller knows, the body size, that the sender is the peer it
// came from, that it is addressed to this node or to no one (with
// [WithRecipient]), the time against a skew window, the signature, and finally
// that the (sender, nonce) pair was not accepted before ([ReplayGuard]).
// Cheap checks come first, so a flood of junk costs no signature checks;
// the replay guard comes last, so only authentic envelopes take its memory.
//
// Every rejection is a [*RejectError] matching [ErrRejected], whose Reason
// is one of a small fixed set ([Reasons]) meant to label the metric
// icn_network_rejected_total{reason}.
//
// # What it must not do
//
// envelope does no I/O: no libp2p streams, no actors, no logging, no
// metrics; the network service reads and writes bytes and counts the
// reasons. It imports nothing of ICN's (DESIGN: messages imports nothing of
// ours), so signing and checking signatures are passed in: a [Signer] for
// Seal, a [VerifyFunc] for the Verifier, both thin adapters over
// services/identity, which stays the one place signatures are made and
// checked. The peer's DID likewise comes from identity.DIDFromPeerID in the
// caller. It holds no package-level mutable state.
package envelope
