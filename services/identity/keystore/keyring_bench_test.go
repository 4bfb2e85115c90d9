package keystore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
)

// BenchmarkOpenKeyring measures OpenKeyring of a keyring of n accounts,
// plain and encrypted with the default argon2id parameters (64 MiB, 3
// passes, 2 threads): the encrypted open runs argon2id once, whatever n is,
// so encrypted/accounts=0 is the cost of the KDF alone.
func BenchmarkOpenKeyring(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		opts []keystore.Option
	}{
		{"plain", 1000, nil},
		{"encrypted", 0, []keystore.Option{keystore.WithPassphrase(pass), keystore.WithKDFParams(keystore.DefaultKDFParams())}},
		{"encrypted", 1000, []keystore.Option{keystore.WithPassphrase(pass), keystore.WithKDFParams(keystore.DefaultKDFParams())}},
	} {
		b.Run(fmt.Sprintf("%s/accounts=%d", bc.name, bc.n), func(b *testing.B) {
			dataDir := b.TempDir()
			node := keyringtest.NewNode(b)
			fillKeyring(b, mustOpenKeyring(b, dataDir, node, bc.opts...), bc.n)
			b.ResetTimer()
			for b.Loop() {
				k, err := keystore.OpenKeyring(dataDir, node, bc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				if got := len(k.DIDs()); got != 1+bc.n {
					b.Fatalf("%d accounts, want %d", got, 1+bc.n)
				}
			}
		})
	}
}

// fillKeyring creates n accounts in k, a few at a time (each Create waits
// for two fsyncs).
func fillKeyring(b *testing.B, k identity.Keyring, n int) {
	b.Helper()
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if _, err := k.Create(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
