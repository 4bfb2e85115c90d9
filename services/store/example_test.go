package store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
)

// An actor persists a change by committing one batch, and replies only
// after Commit returned nil.
func Example() {
	ctx := context.Background()
	var s store.Store = memstore.New() // badgerstore.Open in production
	defer func() { _ = s.Close() }()   // a memory store's Close cannot fail

	var b store.Batch
	b.Put([]byte("ledger/acct/alice"), []byte("100"))
	b.Put([]byte("ledger/acct/bob"), []byte("40"))
	b.Put([]byte("ledger/acct/carol"), []byte("7"))
	if err := s.Commit(ctx, &b); err != nil {
		fmt.Println("not durable, do not acknowledge:", err)
		return
	}

	// Scan from bob onwards, stopping after two accounts.
	errEnough := errors.New("enough")
	n := 0
	err := s.Scan(ctx, []byte("ledger/acct/"), []byte("ledger/acct/bob"), func(k, v []byte) error {
		fmt.Printf("%s = %s\n", k, v)
		if n++; n == 2 {
			return errEnough
		}
		return nil
	})
	fmt.Println(errors.Is(err, errEnough))

	_, err = s.Get(ctx, []byte("ledger/acct/dave"))
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// ledger/acct/bob = 40
	// ledger/acct/carol = 7
	// true
	// true
}
