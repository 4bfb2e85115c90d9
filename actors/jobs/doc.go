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
// On one node the announcement reaches nobody and the node's own bid wins
// at once: announced, bidding and assigned are recorded together and the
// job runs on the local executor pool. Cross-node bidding slots in between
// escrowed and assigned. The manager never executes jobs itself: that is
// the executors' work.
package jobs
