package httpapi

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/intercooperative-network/icn-go/supervisors"
)

// browser starts headless Chromium (Debian's package, installed by
// `make test-deps`) for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `make test-deps` (Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// TestAdminPageRendersTheTreeAndKills drives the admin page in a real
// browser: it takes the token from the URL fragment (and removes it from
// the address bar), renders every actor with its breaker colour, refreshes
// itself, and its kill button restarts the actor.
func TestAdminPageRendersTheTreeAndKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	f := newFixture(t)
	f.srv.started.Store(false)
	if err := f.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srv.Stop(context.Background()) })
	ctx := browser(t)
	base := "http://" + f.srv.Addr("admin") + "/admin/"

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"#token="+adminToken),
		chromedp.WaitVisible(`li[data-path="/icn/executors/worker-0"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(location, "token") {
		t.Fatalf("the token stayed in the address bar: %s", location)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("li")].map(li => li.dataset.path + " " + li.querySelector(".badge.closed").textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/icn", "/icn/peers", "/icn/ledger", "/icn/executors", "/icn/executors/worker-0", "/icn/dag", "/icn/governance"}
	if len(rows) != len(want) {
		t.Fatalf("rendered %v, want the %d actors", rows, len(want))
	}
	for i, w := range want {
		if rows[i] != w+" breaker closed" {
			t.Fatalf("row %d: %q, want %q", i, rows[i], w+" breaker closed")
		}
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.kill").length`))
	if err != nil {
		t.Fatal(err)
	}
	if buttons != 3*(len(want)-1) {
		t.Fatalf("%d kill buttons, want 3 per actor but the root", buttons)
	}

	// Click "kill: panic" on governance; the page shows the restart.
	restarts := `document.querySelector('li[data-path="/icn/governance"] .nums').textContent`
	err = chromedp.Do(ctx,
		chromedp.Click(`li[data-path="/icn/governance"] > .row > button[data-mode="panic"]`),
		chromedp.Poll[chromedp.Void](restarts+`.includes("restarts 1 ")`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.tree.Actor("/icn/governance"); n.Restarts != 1 || n.Failures != 1 {
		t.Fatalf("the click did not kill governance once: %+v", n)
	}

	// A breaker opened outside the page shows in red at the next refresh.
	f.broken.Store(true)
	if err := f.tree.Kill(t.Context(), "/icn/governance", supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx, chromedp.WaitVisible(`li[data-path="/icn/governance"] .badge.open`))
	if err != nil {
		t.Fatal(err)
	}
	color, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('li[data-path="/icn/governance"] .badge.open')).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if color != "rgb(251, 217, 221)" {
		t.Fatalf("open breaker colour %s", color)
	}
	f.broken.Store(false)

	// Without a token the page asks for one instead of showing data. A
	// new tab of the same browser: a second browser process is what failed
	// to start now and then on a loaded 2-core machine.
	ctx2, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	if err := chromedp.Do(ctx2, chromedp.Navigate(base), chromedp.WaitVisible(`#login`)); err != nil {
		t.Fatal(err)
	}
	hidden, err := chromedp.Run(ctx2, chromedp.Evaluate[bool](`document.querySelectorAll("li").length === 0`))
	if err != nil || !hidden {
		t.Fatalf("page without a token: %v, tree hidden %v", err, hidden)
	}
}
