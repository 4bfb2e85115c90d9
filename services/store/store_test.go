package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/services/store"
)

func TestValidateKey(t *testing.T) {
	cases := []struct {
		name string
		key  string
		ok   bool
	}{
		{"empty", "", false},
		{"one byte", "a", true},
		{"zero byte", "\x00", true},
		{"max size", strings.Repeat("k", store.MaxKeySize), true},
		{"over max size", strings.Repeat("k", store.MaxKeySize+1), false},
		{"reserved prefix", store.ReservedPrefix + "x", false},
		{"reserved prefix exactly", store.ReservedPrefix, false},
		{"reserved prefix truncated", store.ReservedPrefix[:len(store.ReservedPrefix)-1], true},
		{"reserved prefix inside", "x" + store.ReservedPrefix, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := store.ValidateKey([]byte(c.key))
			if c.ok != (err == nil) {
				t.Fatalf("ValidateKey = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, store.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
		})
	}
	if err := store.ValidateKey(nil); err == nil {
		t.Fatal("nil key accepted")
	}
}

func TestBatchCopiesAndAccounts(t *testing.T) {
	var b store.Batch
	key, value := []byte("key"), []byte("value")
	b.Put(key, value)
	b.Delete([]byte("gone"))
	b.Put([]byte("empty"), nil)
	key[0], value[0] = 'X', 'X'

	if n := len("key") + len("value") + len("gone") + len("empty"); b.Len() != 3 || b.Size() != n || b.Total() != n {
		t.Fatalf("Len %d, Size %d", b.Len(), b.Size())
	}
	var ops []store.Op
	for op := range b.Ops() {
		ops = append(ops, op)
	}
	want := []struct {
		key, value string
		del        bool
	}{{"key", "value", false}, {"gone", "", true}, {"empty", "", false}}
	for i, w := range want {
		if string(ops[i].Key) != w.key || string(ops[i].Value) != w.value || ops[i].Delete != w.del {
			t.Fatalf("op %d = %q=%q del=%v, want %q=%q del=%v", i, ops[i].Key, ops[i].Value, ops[i].Delete, w.key, w.value, w.del)
		}
	}
	// Key and value share one allocation; appending to the key must not
	// run into the value.
	_ = append(ops[0].Key, "OVERWRITE"...)
	if string(ops[0].Value) != "value" {
		t.Fatalf("appending to Op.Key overwrote Op.Value: %q", ops[0].Value)
	}

	// Ops stops when the consumer does.
	n := 0
	for range b.Ops() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("Ops yielded %d after break", n)
	}

	b.Reset()
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: Len %d, Size %d", b.Len(), b.Size())
	}
	for range b.Ops() {
		t.Fatal("Ops of a reset batch yielded")
	}
}

func TestNilBatch(t *testing.T) {
	var b *store.Batch
	if b.Len() != 0 || b.Size() != 0 || b.Validate() != nil {
		t.Fatal("nil batch is not empty and valid")
	}
	for range b.Ops() {
		t.Fatal("nil batch yielded an op")
	}
}

func TestBatchValidate(t *testing.T) {
	cases := []struct {
		name     string
		fill     func(b *store.Batch)
		tooLarge bool
		badKey   bool
	}{
		{"empty", func(b *store.Batch) {}, false, false},
		{"max ops", func(b *store.Batch) {
			for range store.MaxBatchOps {
				b.Delete([]byte("k"))
			}
		}, false, false},
		{"one op too many", func(b *store.Batch) {
			for range store.MaxBatchOps + 1 {
				b.Delete([]byte("k"))
			}
		}, true, false},
		{"max bytes", func(b *store.Batch) { fillInline(b, store.MaxBatchBytes) }, false, false},
		{"one byte too many", func(b *store.Batch) { fillInline(b, store.MaxBatchBytes); b.Delete([]byte("k")) }, true, false},
		{"large values weigh a pointer", func(b *store.Batch) {
			for range 64 {
				b.Put([]byte("k"), make([]byte, store.LargeValue))
			}
		}, false, false},
		{"largest value", func(b *store.Batch) { b.Put([]byte("k"), make([]byte, store.MaxValueSize)) }, false, false},
		{"value too large", func(b *store.Batch) { b.Put([]byte("k"), make([]byte, store.MaxValueSize+1)) }, true, false},
		{"total too large", func(b *store.Batch) {
			for range store.MaxBatchTotal/store.MaxValueSize + 1 {
				b.Put([]byte("k"), make([]byte, store.MaxValueSize))
			}
		}, true, false},
		{"empty key last", func(b *store.Batch) { b.Put([]byte("a"), nil); b.Put(nil, []byte("v")) }, false, true},
		{"empty delete key", func(b *store.Batch) { b.Delete(nil) }, false, true},
		{"too large wins over bad key", func(b *store.Batch) {
			fillInline(b, store.MaxBatchBytes)
			b.Put(nil, []byte("v"))
		}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b store.Batch
			c.fill(&b)
			err := b.Validate()
			tl, isTooLarge := errors.AsType[*store.BatchTooLargeError](err)
			if isTooLarge != c.tooLarge || errors.Is(err, store.ErrInvalidKey) != c.badKey {
				t.Fatalf("Validate = %v; want tooLarge=%v badKey=%v", err, c.tooLarge, c.badKey)
			}
			if !c.tooLarge && !c.badKey && err != nil {
				t.Fatalf("Validate = %v", err)
			}
			if isTooLarge && (tl.Ops != b.Len() || tl.Bytes != b.Size()) {
				t.Fatalf("error carries %d ops %d bytes, batch has %d %d", tl.Ops, tl.Bytes, b.Len(), b.Size())
			}
		})
	}
}

// fillInline adds puts of values just under store.LargeValue (under key
// "k") whose Size adds up to exactly n.
func fillInline(b *store.Batch, n int) {
	for n > 0 {
		v := min(n, store.LargeValue) - 1
		b.Put([]byte("k"), make([]byte, v))
		n -= v + 1
	}
}

func TestBatchTooLargeErrorText(t *testing.T) {
	err := &store.BatchTooLargeError{Ops: 12000, Bytes: 10, Total: 20, MaxValue: 5}
	want := "store: batch too large: 12000 ops (max 10000), 10 bytes (max 2097152), 20 bytes in all (max 67108864), largest value 5 bytes (max 16777216)"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}
