// Command loop never ends: it spins in a tight loop without a host call,
// the worst case for a sandbox. The node stops it when it runs out of fuel
// (reason fuel) or time (reason timeout), whichever comes first, without
// slowing honest jobs down (see docs/jobs.md).
//
//	icnctl job submit examples/jobs/bin/loop.wasm --timeout-ms 500 --wait
package main

// sink keeps the loop's work observable, so that the job burns CPU rather
// than a loop the compiler could reduce.
var sink uint64

func main() {
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		sink = x
		if sink == 0 { // never: it only makes sink read, as far as vet knows
			println(sink)
		}
	}
}
