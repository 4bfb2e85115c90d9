package ccl

import (
	"slices"

	dagblock "github.com/intercooperative-network/icn-go/messages/block"
)

// Manifest is a published contract's root block (dag-cbor). It links the
// source and the module, both raw blocks, and records what the module is,
// so a node can refuse one whose source does not compile to it. Its CID is
// the contract's.
type Manifest struct {
	Source          dagblock.Link   `cbor:"source"`
	WASM            dagblock.Link   `cbor:"wasm"`
	CompilerVersion string          `cbor:"compiler_version"`
	Entries         []ManifestEntry `cbor:"entries"`
	Imports         []string        `cbor:"imports"`
}

// ManifestEntry is an exported entry point; types as CCL spells them.
type ManifestEntry struct {
	Name   string   `cbor:"name"`
	Params []string `cbor:"params"`
	Result string   `cbor:"result"`
}

// Describe is the manifest of a compiled program, without its links.
func Describe(out *Output) Manifest {
	m := Manifest{CompilerVersion: Version, Entries: []ManifestEntry{}, Imports: slices.Clone(out.Imports)}
	if m.Imports == nil {
		m.Imports = []string{}
	}
	for _, ex := range out.Exports {
		e := ManifestEntry{Name: ex.Name, Params: []string{}, Result: ex.Result.String()}
		for _, p := range ex.Params {
			e.Params = append(e.Params, p.Type.String())
		}
		m.Entries = append(m.Entries, e)
	}
	return m
}

// SameModule reports whether m and o describe the same module (links
// aside).
func (m Manifest) SameModule(o Manifest) bool {
	return m.CompilerVersion == o.CompilerVersion && slices.Equal(m.Imports, o.Imports) &&
		slices.EqualFunc(m.Entries, o.Entries, func(x, y ManifestEntry) bool {
			return x.Name == y.Name && x.Result == y.Result && slices.Equal(x.Params, y.Params)
		})
}

// Pack makes a compiled program's three blocks: source, module and the
// manifest linking them, and returns the manifest too. The same source and
// compiler version always give the same blocks, on any node.
func Pack(src []byte, out *Output) (source, wasm, root dagblock.Block, m Manifest, err error) {
	if source, err = dagblock.NewRaw(src); err != nil {
		return
	}
	if wasm, err = dagblock.NewRaw(out.WASM); err != nil {
		return
	}
	m = Describe(out)
	m.Source, m.WASM = dagblock.LinkTo(source.CID()), dagblock.LinkTo(wasm.CID())
	root, err = dagblock.Encode(m)
	return
}
