package messages

import "time"

// StatusRequest asks a subsystem actor for its status; it answers
// *SubsystemStatus from its own mailbox.
type StatusRequest struct{}

// SubsystemStatus is a subsystem's own account of itself.
type SubsystemStatus struct {
	Name string `json:"name"`
	// Ready is false while the subsystem cannot do its work (for example an
	// executor pool with no workers).
	Ready bool `json:"ready"`
	// Since is when this incarnation of the actor started: it changes on
	// every restart.
	Since time.Time `json:"since"`
	// Details are subsystem-specific figures (counts, sizes), as strings so
	// the shape stays stable across subsystems.
	Details map[string]string `json:"details,omitempty"`
}
