// Package jobs is the job manager: a supervisor (Spec) whose behaviour takes
// job submissions and moves each job through its states: submitted,
// escrowed (the node's account reserves max_mana), announced, bidding,
// assigned, running, then completed, failed or cancelled, with the escrow
// released at the end.
//
// Every transition is a record block in the dag and the ref jobs/<id>
// moved to it by compare-and-swap, before it is acted on or reported; a
// restarted manager lists the refs and resumes every unfinished job. See
// manager for why one actor holds every job.
//
// After escrow the job is announced on the jobs gossip topic and every
// node with a free worker bids by RPC to the submitter (this node bids on
// its own jobs too, so a lone node runs them); the window closes at
// bid_window_ms or when enough bids are in. The best bid (price, then
// reputation, free workers, DID) is assigned: locally the job runs on this
// node's executor pool, remotely the executor's node runs it on its own
// and answers the receipt, which is fetched and verified here before the
// executor is paid its price from the escrow (and its node told, so that
// its ledger receives the payment). An executor that fails the job (no
// answer, breaker open, a receipt that does not verify, executor_lost)
// gives way to the next bid, up to three executors. See remote.go. The
// manager never executes jobs itself: that is the executors' work.
package jobs
