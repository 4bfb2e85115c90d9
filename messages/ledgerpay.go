package messages

import (
	"errors"

	"github.com/ipfs/go-cid"
)

// A payment to an account kept on another node: the payer's node appends
// only its own send or settle entry; the payee's node receives it on its
// own chain once told where the entry is.

// WireLedgerPaid is an RPC to the payee's node: the body is the CID's
// bytes of the payer's send or settle entry; the payee's ledger answers
// once it received the payment (an empty body) or refuses.
const WireLedgerPaid = "ledger.paid"

// ErrInvalidPayment: the entry named as a payment is not one this node can
// receive: not a send or settle, paying no local account, or on a chain
// that does not verify.
var ErrInvalidPayment = errors.New("ledger: invalid payment")

// ReceivePayment asks the ledger to receive the payment Source (a send or
// settle entry of another node's account, fetched with its chain from
// other nodes): it verifies the payer's chain up to the entry and appends
// a receive citing it to the payee's chain, once. The reply is an
// *EntryReply with the receive, ErrAlreadyReceived or ErrInvalidPayment.
type ReceivePayment struct{ Source cid.Cid }
