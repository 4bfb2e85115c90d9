// Package block is ICN's content addressing: it computes every CID in the
// node and encodes and decodes every structured block, so that two nodes
// (or an independent IPLD implementation) always agree on the bytes and the
// hash. Everyone else calls it.
//
// CIDs are standard CIDv1 with a sha2-256 multihash, written in base32
// ("bafy..."). There are two kinds of block:
//
//   - raw (codec 0x55): opaque bytes;
//   - dag-cbor (codec 0x71): IPLD's deterministic CBOR: map keys sorted
//     length-first, floats always 64-bit, no indefinite lengths, and links
//     to other blocks as CBOR tag 42 holding the CID's bytes behind a 0x00
//     prefix. Go values are encoded with Encode and decoded with Decode;
//     a link is a Link.
//
// A Block can only be made by computing its CID (NewRaw, Encode) or by
// checking one (Verified), so a Block value is always intact. The CAR
// (content-addressed archive, v1) reader verifies every block it yields.
//
// block does no I/O of its own and imports nothing of ICN's.
package block
