// Package governance is the governance subsystem actor: members, proposals,
// votes, tallies, execution of passed proposals and CCL policies.
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus);
// the governance protocol arrives with the governance issue.
package governance
