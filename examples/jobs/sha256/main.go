// Command sha256 prints the SHA-256 of its input (stdin) in hex, followed
// by a newline, as sha256sum does without the file name:
//
//	icnctl job submit examples/jobs/bin/sha256.wasm --input FILE --wait
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

func main() {
	h := sha256.New()
	if _, err := io.Copy(h, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "sha256:", err)
		os.Exit(1)
	}
	fmt.Println(hex.EncodeToString(h.Sum(nil)))
}
