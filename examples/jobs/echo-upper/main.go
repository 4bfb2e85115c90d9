// Command echo-upper is the smallest useful job: it copies its input
// (stdin) to its output (stdout) in upper case. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -o echo-upper.wasm ./examples/jobs/echo-upper
//
// or `make examples`, and run it with
//
//	icnctl job submit examples/jobs/bin/echo-upper.wasm --input - --wait <<< "hello"
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			// ToUpper, not a byte loop: UTF-8 input stays UTF-8.
			if _, werr := out.Write(bytes.ToUpper(buf[:n])); werr != nil {
				fail(werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
	}
	if err := out.Flush(); err != nil {
		fail(err)
	}
}

// fail logs to stderr (the job's log) and exits non-zero, which fails the
// job with reason exit_code.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "echo-upper:", err)
	os.Exit(1)
}
