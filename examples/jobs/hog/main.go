// Command hog allocates memory 1 MiB at a time, touching every page and
// keeping it all, until the sandbox refuses: the job fails with reason
// memory once it asks for more than its memory limit.
//
//	icnctl job submit examples/jobs/bin/hog.wasm --memory-mb 64 --wait
package main

import "fmt"

// kept holds every block, so that none can be collected and reused.
var kept [][]byte

func main() {
	for i := 1; ; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		kept = append(kept, b)
		if i%64 == 0 {
			fmt.Printf("%d MiB\n", i) // progress, cut short by the limit
		}
	}
}
