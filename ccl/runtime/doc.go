// Package runtime runs compiled CCL policies: it loads a module produced
// by package ccl into a services/wasm Engine with the icn host module
// linked, calls one entry point against a frozen [Snapshot], and returns a
// typed [Value] with the fuel the call used, or a typed [*Trap].
//
// Every function of ccl.HostFuncs is implemented, over the snapshot only:
// there is no wall clock (now() is the snapshot's), no I/O and no state
// kept between calls. Members are sorted by DID; votes are by DID with the
// options 1 yes/consent/agree, 2 no/objection/disagree, 3
// abstain/stand-aside, 4 veto/block; a DID that did not vote and delegated
// to another takes the vote of the end of its delegation chain.
//
// Before anything is instantiated, [Runtime.Load] parses the module's
// import section and refuses an import outside the icn host table (a WASI
// function, another module, an unknown icn function, a wrong signature)
// with an [*Error] of kind [KindForbiddenImport]; a start function, a
// memory above ccl.MaxMemoryPages or an entry point with the wrong
// signature is [KindInvalidModule].
//
// Limits: fuel per call (default [DefaultFuel]), memory of at most
// ccl.MaxMemoryPages pages, and a wall-clock backstop. Running out of fuel
// is the trap fuel_exhausted; the fuel used is exact and the same on any
// machine for the same module, snapshot and arguments.
package runtime
