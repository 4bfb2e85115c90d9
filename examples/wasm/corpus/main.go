// Command corpus is a WASI job with modes selected by its first argument.
// The tests of services/wasm build it for GOOS=wasip1 and run each mode
// with and without fuel metering, and its CPU-bound modes are the Go side
// of the metering benchmarks. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -o corpus.wasm ./examples/wasm/corpus
//
// Modes (numbers default when omitted):
//
//	sha256 MiB   SHA-256 of MiB mebibytes of generated data
//	sort N       sorts N pseudo-random integers
//	json N       encodes and decodes N records as JSON
//	sieve N      counts the primes below N
//	fib N        naive recursive Fibonacci
//	deep N       recursion N calls deep
//	loop N       a counted loop of N iterations
//	echo         copies stdin to stdout in upper case
//	hog MiB      allocates and touches MiB mebibytes, 1 MiB at a time
//	sleep MS     sleeps MS milliseconds
//	exit CODE    prints a line, then exits with CODE
//	env          prints its arguments, environment and the clock
//	open PATH    tries to read a file (there is no filesystem)
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: corpus MODE [N]")
		os.Exit(2)
	}
	n := func(def int) int {
		if len(os.Args) < 3 {
			return def
		}
		v, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return v
	}
	switch os.Args[1] {
	case "sha256":
		fmt.Printf("%x\n", hashGenerated(n(1)))
	case "sort":
		sortInts(n(100000))
	case "json":
		jsonRoundTrip(n(1000))
	case "sieve":
		fmt.Println(sieve(n(1000000)))
	case "fib":
		fmt.Println(fib(n(25)))
	case "deep":
		fmt.Println(deep(n(10000)))
	case "loop":
		fmt.Println(loop(n(1000000)))
	case "echo":
		echo()
	case "hog":
		hog(n(64))
	case "sleep":
		time.Sleep(time.Duration(n(10)) * time.Millisecond)
		fmt.Println("slept")
	case "exit":
		fmt.Println("exiting")
		os.Exit(n(3))
	case "env":
		env := os.Environ()
		slices.Sort(env)
		fmt.Println(strings.Join(os.Args, " "))
		fmt.Println(strings.Join(env, " "))
		fmt.Println(time.Now().UTC().Format(time.RFC3339Nano))
	case "open":
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(len(b))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// hashGenerated hashes mib MiB of a deterministic pattern, one MiB at a time.
func hashGenerated(mib int) []byte {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for i := range mib {
		for j := 0; j < len(buf); j += 8 {
			binary.LittleEndian.PutUint64(buf[j:], uint64(i)<<32|uint64(j))
		}
		h.Write(buf)
	}
	return h.Sum(nil)
}

type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func sortInts(n int) {
	r := xorshift(88172645463325252)
	v := make([]int, n)
	for i := range v {
		v[i] = int(r.next() >> 1)
	}
	slices.Sort(v)
	var sum uint64
	for i, x := range v {
		sum = sum*31 + uint64(x) + uint64(i)
	}
	fmt.Println(n, v[0], v[n-1], sum)
}

type record struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Score float64           `json:"score"`
	Attrs map[string]string `json:"attrs"`
}

func jsonRoundTrip(n int) {
	r := xorshift(2463534242)
	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{
			ID:    i,
			Name:  fmt.Sprintf("member-%d", r.next()%100000),
			Tags:  []string{"coop", strconv.Itoa(int(r.next() % 7))},
			Score: float64(r.next()%10000) / 100,
			Attrs: map[string]string{"k": strconv.Itoa(i), "z": "v"},
		}
	}
	b, err := json.Marshal(recs)
	if err != nil {
		panic(err)
	}
	var back []record
	if err := json.Unmarshal(b, &back); err != nil {
		panic(err)
	}
	b2, _ := json.Marshal(back)
	fmt.Printf("%d %d %x %v\n", len(back), len(b), sha256.Sum256(b), string(b) == string(b2))
}

// sieve and loop are not inlined: the metering benchmark
// (services/wasm BenchmarkCPU) measures each in its own function, as hot
// loops usually are, rather than inside main's dispatch of every command.
//
//go:noinline
func sieve(n int) int {
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

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func deep(n int) int {
	if n == 0 {
		return 0
	}
	return deep(n-1) + 1
}

//go:noinline
func loop(n int) uint64 {
	var acc uint64
	for i := range n {
		acc = acc*31 + uint64(i)
	}
	return acc
}

func echo() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	buf := make([]byte, 4096)
	for {
		k, err := in.Read(buf)
		if _, werr := out.WriteString(strings.ToUpper(string(buf[:k]))); werr != nil {
			fmt.Fprintln(os.Stderr, werr)
			os.Exit(1)
		}
		if err == io.EOF {
			if err := out.Flush(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func hog(mib int) {
	var kept [][]byte
	sum := 0
	for i := range mib {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		kept = append(kept, b)
		sum += int(kept[i/2][0])
	}
	fmt.Println("allocated", len(kept), sum)
}
