package executors

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
)

// ErrInvalidReceipt: a receipt block that does not decode canonically,
// lacks a field, or whose signature is not its executor's.
var ErrInvalidReceipt = errors.New("executors: invalid receipt")

// receipt is the stored form of a job receipt: a dag-cbor block signed by
// the executor node's key. The signature covers the receipt's dag-cbor
// encoding without "sig", after a domain prefix, so that it cannot be
// replayed as any other kind of signed ICN record (same scheme as ledger
// entries).
//
// cost_table_version came after the first receipts were stored: a receipt
// without it decodes with version 0, and omitempty keeps its encoding, so
// its CID and signature, as they were. cpu_us came later still, the same
// way: a run measured at 0 µs (or on a system where it is not measured)
// omits it.
type receipt struct {
	Job             string     `cbor:"job"`
	Executor        string     `cbor:"executor"`
	Module          block.Link `cbor:"module"`
	Input           block.Link `cbor:"input"`
	Output          block.Link `cbor:"output"`
	ExitCode        uint32     `cbor:"exit_code"`
	FuelUsed        uint64     `cbor:"fuel_used"`
	CostTable       uint32     `cbor:"cost_table_version,omitempty"` // the version fuel_used is measured in
	WallMS          uint64     `cbor:"wall_ms"`
	CPUMicros       uint64     `cbor:"cpu_us,omitempty"` // not deterministic: no verification compares it
	PeakMemoryBytes uint64     `cbor:"peak_memory_bytes"`
	Stderr          []byte     `cbor:"stderr,omitempty"`
	Time            int64      `cbor:"time"` // unix milliseconds
	Sig             []byte     `cbor:"sig,omitempty"`
}

// receiptDomain prefixes the bytes a receipt's signature covers.
const receiptDomain = "icn/job/receipt/v1\n"

// signingBytes are what the executor signs: the receipt without its signature.
func (r receipt) signingBytes() ([]byte, error) {
	r.Sig = nil
	b, err := block.Encode(r)
	if err != nil {
		return nil, err
	}
	return append([]byte(receiptDomain), b.Data()...), nil
}

// sign signs r with the executor's key and encodes its block.
func (r receipt) sign(id *identity.Identity) (block.Block, error) {
	msg, err := r.signingBytes()
	if err != nil {
		return block.Block{}, err
	}
	r.Sig = id.Sign(msg)
	return block.Encode(r)
}

// decodeReceipt reads a receipt block. Only the canonical encoding is
// accepted, so a signed receipt has exactly one CID.
func decodeReceipt(b block.Block) (receipt, error) {
	var r receipt
	if err := block.Decode(b, &r); err != nil {
		return receipt{}, fmt.Errorf("%w: %w", ErrInvalidReceipt, err)
	}
	again, err := block.Encode(r)
	if err != nil {
		return receipt{}, fmt.Errorf("%w: %w", ErrInvalidReceipt, err)
	}
	if !bytes.Equal(again.Data(), b.Data()) {
		return receipt{}, fmt.Errorf("%w: %s is not the canonical encoding of a receipt", ErrInvalidReceipt, b.CID())
	}
	return r, nil
}

// message is the receipt as the pool's replies carry it.
func (r receipt) message(b block.Block) *messages.JobReceipt {
	return &messages.JobReceipt{
		CID: b.CID(), JobID: r.Job, Executor: r.Executor, Module: r.Module.Cid, Input: r.Input.Cid, Output: r.Output.Cid,
		ExitCode: r.ExitCode, FuelUsed: r.FuelUsed, CostTableVersion: r.CostTable, WallMS: r.WallMS, CPUMicros: r.CPUMicros, PeakMemoryBytes: r.PeakMemoryBytes,
		Stderr: r.Stderr, Time: time.UnixMilli(r.Time).UTC(), Sig: r.Sig,
	}
}

// SignReceipt signs a receipt with the executor node's key (r.Executor is
// set to its DID; r.CID and r.Sig are ignored) and returns the block to
// store and the receipt as stored.
func SignReceipt(id *identity.Identity, r messages.JobReceipt) (block.Block, *messages.JobReceipt, error) {
	stored := receipt{
		Job: r.JobID, Executor: string(id.DID()), Module: block.LinkTo(r.Module),
		Input: block.LinkTo(r.Input), Output: block.LinkTo(r.Output), ExitCode: r.ExitCode, FuelUsed: r.FuelUsed,
		CostTable: r.CostTableVersion, WallMS: r.WallMS, CPUMicros: r.CPUMicros, PeakMemoryBytes: r.PeakMemoryBytes, Stderr: r.Stderr, Time: r.Time.UnixMilli(),
	}
	b, err := stored.sign(id)
	if err != nil {
		return block.Block{}, nil, err
	}
	if stored, err = decodeReceipt(b); err != nil {
		return block.Block{}, nil, err
	}
	return b, stored.message(b), nil
}

// DecodeReceipt reads a receipt block without checking its signature (see
// VerifyReceipt).
func DecodeReceipt(b block.Block) (*messages.JobReceipt, error) {
	r, err := decodeReceipt(b)
	if err != nil {
		return nil, err
	}
	return r.message(b), nil
}

// VerifyReceipt checks a receipt block: canonical encoding, every field
// present and in bounds, and the signature by the executor DID it names.
// It does not fetch the output (the job manager checks that the output
// block hashes to Output when it fetches it).
func VerifyReceipt(b block.Block) error {
	r, err := decodeReceipt(b)
	if err != nil {
		return err
	}
	switch {
	case r.Job == "":
		return fmt.Errorf("%w: no job id", ErrInvalidReceipt)
	case !r.Module.Cid.Defined() || !r.Input.Cid.Defined() || !r.Output.Cid.Defined():
		return fmt.Errorf("%w: a module, input or output link is missing", ErrInvalidReceipt)
	case len(r.Stderr) > messages.MaxReceiptStderr:
		return fmt.Errorf("%w: stderr of %d bytes (max %d)", ErrInvalidReceipt, len(r.Stderr), messages.MaxReceiptStderr)
	case len(r.Sig) == 0:
		return fmt.Errorf("%w: unsigned", ErrInvalidReceipt)
	}
	msg, err := r.signingBytes()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidReceipt, err)
	}
	if err := identity.Verify(identity.DID(r.Executor), msg, r.Sig); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidReceipt, err)
	}
	return nil
}
