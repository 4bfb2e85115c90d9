// Package governance is the governance subsystem actor: members, proposals,
// votes, tallies, execution of passed proposals and CCL policies.
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus)
// and, for CCL contracts:
//   - messages.PublishContract: compiles the source and stores the
//     contract as three blocks in the dag (the source and the module, raw,
//     and a dag-cbor manifest {source, wasm, compiler_version, entries,
//     imports} linking them) in one put that pins the manifest
//     recursively; *messages.ContractInfo once they are durable, or a
//     *messages.CompileError with every positioned error.
//   - messages.GetContract: the manifest, decoded.
//   - messages.EvalContract: reads the manifest, source and module,
//     recompiles the source and refuses the contract
//     (messages.ErrContractMismatch) unless it gives the stored bytes with
//     the same compiler version, entry points and imports; then calls the
//     entry point against the snapshot with the runtime's fuel
//     (*messages.EvalResult, or a *messages.ContractTrap). Checked
//     policies are kept by manifest CID in a bounded LRU, so a warm
//     evaluation reads nothing and compiles nothing.
//
// Every contract operation runs on a goroutine of its own and answers from
// there (at most maxInFlight at once, then messages.ErrBusy): compiling
// and calling are CPU work, and the dag is waited for. The governance
// protocol itself (proposals, votes, tallies) arrives with the governance
// issue.
package governance
