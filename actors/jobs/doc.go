// Package jobs is the job manager: a supervisor (Spec) whose behaviour takes
// job submissions and which will supervise one actor per in-flight mesh job
// (escrow, announce, bids, assign, receipt, settle).
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus);
// the job protocol arrives with the mesh jobs issue. It must not execute
// jobs itself: that is the executors' work.
package jobs
