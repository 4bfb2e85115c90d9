//go:build !linux

package executors

import "time"

// threadCPU is zero where a thread's CPU time is not read: receipts then
// omit it.
func threadCPU() time.Duration { return 0 }
