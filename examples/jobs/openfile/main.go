// Command openfile tries to read a file, by default /etc/passwd (or the
// path given as its first argument). A job has no filesystem: the open
// fails, the job says why on stderr (its log) and exits 1, so the job
// fails with reason exit_code.
//
//	icnctl job submit examples/jobs/bin/openfile.wasm --wait
package main

import (
	"fmt"
	"os"
)

func main() {
	path := "/etc/passwd"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openfile:", err)
		os.Exit(1)
	}
	// Reached only outside a sandbox.
	fmt.Printf("read %d bytes of %s\n", len(b), path)
}
