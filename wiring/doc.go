// Package wiring assembles a node: it resolves the operator's configuration
// (profile defaults < TOML file < ICN_* environment < flags, in Load), lists
// the service implementations of each profile (ProfileComponents), holds the
// node's supervision tree in one literal (nodeTree), and builds the fx app
// that starts and stops everything in order (New).
//
// Profiles are lists of modules: production and dev run badger, the disk
// keystore and libp2p; test runs the in-process stand-ins. Code outside this
// package never asks which profile it is in, and New refuses a production
// node with any stub component.
//
// wiring owns no domain logic and no goroutines of its own.
package wiring
