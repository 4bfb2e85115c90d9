// Package messages defines every message an ICN actor accepts or emits, and
// (in later issues) the signed wire envelope between nodes, together with the
// domain errors that cross actor boundaries, so that the HTTP layer can map
// them to statuses in one table.
//
// Commands are imperative (StatusRequest), replies end in Reply or name the
// result (SubsystemStatus), events are past tense. Messages are plain values:
// no methods with side effects, no pointers into actor state.
//
// messages imports nothing of ICN's.
package messages
