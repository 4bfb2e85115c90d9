package fuel_test

import (
	"testing"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// BenchmarkInstrument rewrites the Go corpus (examples/wasm/corpus built
// for wasip1, 3.8 MB, larger than a 2.6 MB hello world).
//
//	go test -run '^$' -bench BenchmarkInstrument ./services/wasm/fuel/
func BenchmarkInstrument(b *testing.B) {
	src := wasmtest.Corpus(b)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fuel.Instrument(src); err != nil {
			b.Fatal(err)
		}
	}
}
