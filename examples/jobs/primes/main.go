// Command primes prints how many primes are below N, its first argument
// (default 1000000), with a sieve of Eratosthenes: a CPU-bound job whose
// fuel grows with N.
//
//	icnctl job submit examples/jobs/bin/primes.wasm --arg 100000 --wait
//
// A job's argv[0] is "job": the node passes the job's args after it.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	n := 1_000_000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "primes: N %q: want a non-negative integer\n", os.Args[1])
			os.Exit(2)
		}
		n = v
	}
	fmt.Println(countPrimes(n))
}

// countPrimes counts the primes p < n.
func countPrimes(n int) int {
	if n < 3 {
		return 0
	}
	composite := make([]bool, n)
	count := 0
	for i := 2; i < n; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < n; j += i {
			composite[j] = true
		}
	}
	return count
}
