package badgerstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/store"
)

// The crash test re-executes the test binary as a child that commits and
// acknowledges; the parent SIGKILLs it mid-stream and checks the ledger of
// acknowledgements against the reopened store.
const (
	crashChildEnv   = "ICN_BADGERSTORE_CRASH_CHILD_DIR"
	crashGoroutines = 32   // many committers: big groups, many acks per sync
	crashKillAfter  = 1000 // acknowledgements read before the SIGKILL
	crashKeysPerAck = 3    // keys per batch: atomicity is checked too
)

func crashKey(g, i, j int) []byte { return fmt.Appendf(nil, "crash/%02d/%06d/%d", g, i, j) }

// crashValue is 100 to 2100 bytes that depend on the key, so a value
// from another key or a torn one is noticed.
func crashValue(g, i, j int) []byte {
	head := fmt.Sprintf("v:%d:%d:%d:", g, i, j)
	n := 100 + (g*7919+i*104729+j*31)%2000
	return append([]byte(head), bytes.Repeat([]byte{byte('a' + (g+i+j)%26)}, n)...)
}

func TestCrashDurability(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Read acknowledgements; SIGKILL the child on the crashKillAfter-th,
	// then keep reading what it wrote before it died: those were
	// acknowledged too.
	acked := map[[2]int]bool{}
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var g, i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &g, &i); err != nil {
			continue // the testing package's own output, if any
		}
		acked[[2]int{g, i}] = true
		if !killed && len(acked) >= crashKillAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill: %v", err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledgements without being killed: %v\n%s", len(acked), err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.String())
	}
	t.Logf("child killed after %d acknowledgements, %v after start", len(acked), time.Since(start).Round(time.Millisecond))

	t0 := time.Now()
	s := openAt(t, dir)
	// Every batch present must be whole and hold the right values; every
	// acknowledged batch must be present. Batches committed but not yet
	// acknowledged when the child died may be present too.
	present := map[[2]int]int{}
	err = s.Scan(t.Context(), []byte("crash/"), nil, func(key, v []byte) error {
		var g, i, j int
		if _, err := fmt.Sscanf(string(key), "crash/%02d/%06d/%d", &g, &i, &j); err != nil {
			return fmt.Errorf("stray key %q", key)
		}
		if !bytes.Equal(v, crashValue(g, i, j)) {
			return fmt.Errorf("%s has a wrong value %.30q", key, v)
		}
		present[[2]int{g, i}]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range present {
		if n != crashKeysPerAck {
			t.Errorf("batch %v survived in part: %d of %d keys", k, n, crashKeysPerAck)
		}
	}
	lost := 0
	for k := range acked {
		if present[k] == 0 {
			lost++
			t.Errorf("acknowledged batch %v lost", k)
		}
	}
	t.Logf("%d batches acknowledged, %d lost, %d present after reopen (checked in %v)",
		len(acked), lost, len(present), time.Since(t0).Round(time.Millisecond))
}

// crashChild commits batches from several goroutines and prints one line
// per acknowledged batch, as soon as Commit returns. It stops by itself
// after a bound (or when the parent is gone and stdout breaks) in case the
// parent never kills it.
func crashChild(dir string) {
	s, err := Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for g := range crashGoroutines {
		wg.Go(func() {
			for i := range 20 * crashKillAfter {
				var b store.Batch
				for j := range crashKeysPerAck {
					b.Put(crashKey(g, i, j), crashValue(g, i, j))
				}
				if err := s.Commit(context.Background(), &b); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(3)
				}
				// One write(2) per line: lines from the goroutines never mix.
				if _, err := fmt.Fprintf(os.Stdout, "ack %d %d\n", g, i); err != nil {
					os.Exit(4)
				}
			}
		})
	}
	wg.Wait()
	fmt.Fprintln(os.Stderr, "child finished without being killed:", strings.Repeat("!", 3))
	os.Exit(5)
}
