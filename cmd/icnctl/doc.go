// Command icnctl is the operator's client of a running icnd: it reads the
// public API (health, readiness, metrics, node identity, subsystem status)
// and the admin API (the live supervision tree, fault injection, the stream
// of supervision events), drives the block store (icnctl dag: put, get,
// stat, pins, GC, CAR export and import) and the mana ledger (icnctl mana:
// accounts, balances, history, transfers, reservations, chain verification;
// icnctl reputation) and the network (icnctl peers: the peer table, dialling;
// icnctl faults: partitions from peers and their healing), and shows what it
// got to a person or, with -o json, to a script. icnctl ccl checks, compiles
// and runs CCL contracts locally, with no node (packages ccl and
// ccl/runtime; docs/ccl.md), and publishes and evaluates them on a node.
//
// # Finding the node
//
// icnd writes the addresses it bound into its data directory (api.addr and
// admin.addr, one host:port line each, while it runs) and its bearer tokens
// next to them (api.token and admin.token, mode 0600, created on the first
// start). icnctl reads those files from --data-dir (ICN_DATA_DIR, default
// ./data), so on the node's own machine no flag is needed. --api and --admin
// (ICN_API, ICN_ADMIN) override the addresses, as host:port or as a URL;
// --api-token-file and --admin-token-file override the token paths.
//
// # Exit codes
//
//	0   success
//	1   an error: the node answered with an error, could not be reached, or a
//	    token file is missing
//	2   the command worked but the node is not well: status and health report
//	    degraded, ready reports not ready, mana verify found an account chain
//	    that does not verify
//	64  usage: an unknown command or flag, a bad argument (a malformed CID or
//	    amount), binary output refused on a terminal (dag get, dag export)
//
// # Files
//
// main.go only builds the root command and maps errors to exit codes;
// client.go is the HTTP client (bearer token, timeout, JSON into the
// services/httpapi types, typed errors from httpapi.ErrorBody); target.go
// resolves addresses and token paths; commands.go declares the commands;
// render.go prints what they fetched; watch.go is the live view of the
// supervision tree, fed by sse.go's reader of Server-Sent Events; dag.go
// declares the dag commands, which stream: files and stdin are sent as they
// are read, blocks and archives written as they arrive, and --timeout bounds
// only connecting and the wait for an answer, never a transfer; mana.go
// declares the ledger commands (mana, reputation) and explains the ledger's
// refusals; peers.go declares the network commands (peers, faults) and
// explains the peer manager's; ccl.go declares the local CCL commands (check,
// compile, run), which never talk to a node; ccl_node.go those that do
// (publish, eval).
//
// Apart from the local ccl commands, icnctl only talks HTTP to icnd: it
// must not import the daemon's wiring, open its data (other than the
// address and token files) or share state with it. It reuses the JSON types of services/httpapi and supervisors, and
// messages/block's CID parser, so the two sides cannot disagree about a
// field or a CID.
package main
