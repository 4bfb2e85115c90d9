package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/services/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memstore.New()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

// TestScanPoisonsBuffers checks that memstore makes a caller that keeps
// Scan's slices see garbage, instead of passing by luck.
func TestScanPoisonsBuffers(t *testing.T) {
	s := memstore.New()
	var b store.Batch
	b.Put([]byte("a"), []byte("one"))
	b.Put([]byte("b"), []byte("two"))
	if err := s.Commit(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	var keptKeys, keptValues [][]byte
	if err := s.Scan(t.Context(), nil, nil, func(k, v []byte) error {
		keptKeys, keptValues = append(keptKeys, k), append(keptValues, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range keptKeys {
		if string(keptKeys[i]) == "a" || string(keptKeys[i]) == "b" ||
			string(keptValues[i]) == "one" || string(keptValues[i]) == "two" {
			t.Fatalf("kept slices still read %q=%q after the callback", keptKeys[i], keptValues[i])
		}
	}
	if v, err := s.Get(t.Context(), []byte("a")); err != nil || string(v) != "one" {
		t.Fatalf("poisoning reached the store: Get = %q, %v", v, err)
	}
}
