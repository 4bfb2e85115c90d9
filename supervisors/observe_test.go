package supervisors

import (
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/logging"
	"github.com/intercooperative-network/icn-go/services/logging/logtest"
	"github.com/intercooperative-network/icn-go/services/metrics/metricstest"
)

// logBook captures a tree's JSON log lines, as the daemon writes them
// (Info and above, correlation ids turned into request_id).
type logBook struct{ logtest.Book }

func (b *logBook) logger() *slog.Logger { return b.Logger(slog.LevelInfo) }

// supervision returns the supervision lines about actor with that event, in order.
func (b *logBook) supervision(t *testing.T, event EventType, actor string) []map[string]any {
	t.Helper()
	lines, err := b.Records(func(r map[string]any) bool {
		return r["msg"] == "supervision" && r["event"] == string(event) && r["actor"] == actor
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// last returns the last supervision line about actor with that event.
func (b *logBook) last(t *testing.T, event EventType, actor string) map[string]any {
	t.Helper()
	lines := b.supervision(t, event, actor)
	if len(lines) == 0 {
		t.Fatalf("no %s line for %s", event, actor)
	}
	return lines[len(lines)-1]
}

func TestKillEventsCarryTheRequestID(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		mode     KillMode
		lines    []EventType // about /icn/dag
		sibling  bool        // ledger restarts with dag
	}{
		{"panic", OneForOne, KillPanic, []EventType{EventKilled, EventFailed, EventRestarted}, false},
		{"stop", OneForOne, KillStop, []EventType{EventKilled, EventFailed, EventRestarted}, false},
		{"poison", OneForOne, KillPoison, []EventType{EventKilled, EventRestarted}, false},
		{"panic one_for_all", OneForAll, KillPanic, []EventType{EventKilled, EventFailed, EventRestarted}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, logs := &lab{}, &logBook{}
				r := startLogged(t, Spec{Name: "icn", Strategy: tt.strategy, Children: workers(l, Permanent, "dag", "ledger")}, l, logs.logger())
				r.who(t, "dag")
				ctx := correlation.With(t.Context(), "req-kill")
				if err := r.tree.Kill(ctx, "/icn/dag", tt.mode); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				r.who(t, "dag") // back
				for _, ev := range tt.lines {
					if got := logs.last(t, ev, "/icn/dag")[logging.RequestIDKey]; got != "req-kill" {
						t.Errorf("%s line: request_id %v, want req-kill", ev, got)
					}
				}
				if tt.sibling {
					if got := logs.last(t, EventRestarted, "/icn/ledger")[logging.RequestIDKey]; got != "req-kill" {
						t.Errorf("sibling's restarted line: request_id %v, want req-kill", got)
					}
				}

				// Once the child runs again, what happens to it is no longer
				// that request's doing.
				if err := r.tree.Kill(t.Context(), "/icn/dag", tt.mode); err != nil {
					t.Fatal(err)
				}
				time.Sleep(fastDefaults().Backoff.Initial) // the second restart's backoff
				synctest.Wait()
				r.who(t, "dag")
				for _, ev := range tt.lines {
					if got, ok := logs.last(t, ev, "/icn/dag")[logging.RequestIDKey]; ok {
						t.Errorf("%s line of an anonymous kill: request_id %v", ev, got)
					}
				}
			})
		})
	}
}

func TestARequestThatMakesAnActorFailIsNamedInTheFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, logs := &lab{}, &logBook{}
		r := startLogged(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag")}, l, logs.logger())
		ctx := correlation.With(t.Context(), "req-boom")
		if _, err := r.tree.Request(ctx, "dag", &explode{}); !isActorFailed(err) {
			t.Fatalf("request that panics: %v", err)
		}
		synctest.Wait()
		for _, ev := range []EventType{EventFailed, EventRestarted} {
			if got := logs.last(t, ev, "/icn/dag")[logging.RequestIDKey]; got != "req-boom" {
				t.Errorf("%s line: request_id %v, want req-boom", ev, got)
			}
		}
	})
}

// TestSupervisionIsLoggedAtInfo drives a restart, a breaker trip, an
// escalation and a shutdown, and finds each in the log at Info or above.
// The kill that exhausts the budget names its request in all it causes,
// up through the escalation to the root.
func TestSupervisionIsLoggedAtInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, logs := &lab{}, &logBook{}
		sub := &Spec{Intensity: 1, Escalate: Escalation{MaxTrips: 1, Window: time.Minute}, Children: workers(l, Permanent, "w1", "w2")}
		spec := Spec{Name: "icn", Children: append(workers(l, Permanent, "dag"), ChildSpec{Name: "executors", Restart: Permanent, Supervisor: sub})}
		r := startLogged(t, spec, l, logs.logger())

		if err := r.tree.Kill(t.Context(), "w1", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.who(t, "w1")
		// The second failure within the period exhausts executors' budget:
		// w1's breaker opens, which is one trip too many for executors.
		ctx := correlation.With(t.Context(), "req-last-straw")
		if err := r.tree.Kill(ctx, "w1", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.who(t, "w1") // executors restarted, with fresh children

		if err := r.tree.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			event     EventType
			actor     string
			level     string
			requestID string
		}{
			{EventRestarted, "/icn/executors/w1", "INFO", ""},
			{EventBreaker, "/icn/executors/w1", "WARN", "req-last-straw"},
			{EventEscalated, "/icn/executors", "ERROR", "req-last-straw"},
			{EventFailed, "/icn/executors", "WARN", "req-last-straw"},
			{EventRestarted, "/icn/executors", "INFO", "req-last-straw"},
			{EventStopped, "/icn/dag", "INFO", ""},
			{EventStopped, "/icn/executors", "INFO", ""},
			{EventStopped, "/icn/executors/w1", "INFO", ""},
			{EventStopped, "/icn/executors/w2", "INFO", ""},
		}
		for _, tt := range tests {
			lines := logs.supervision(t, tt.event, tt.actor)
			if len(lines) == 0 {
				t.Errorf("no %s line for %s", tt.event, tt.actor)
				continue
			}
			rec := lines[0]
			if rec["level"] != tt.level {
				t.Errorf("%s %s logged at %v, want %s", tt.actor, tt.event, rec["level"], tt.level)
			}
			if tt.requestID != "" && rec[logging.RequestIDKey] != tt.requestID {
				t.Errorf("%s %s: request_id %v, want %s", tt.actor, tt.event, rec[logging.RequestIDKey], tt.requestID)
			}
		}
		if got := logs.supervision(t, EventBreaker, "/icn/executors/w1")[0]["to"]; got != "open" {
			t.Errorf("w1's breaker went to %v, want open", got)
		}
		// A shutdown says each child stopped, once.
		if n := len(logs.supervision(t, EventStopped, "/icn/dag")); n != 1 {
			t.Errorf("%d stopped lines for /icn/dag, want 1", n)
		}
	})
}

func TestRemovingAChildIsAStop(t *testing.T) {
	c := started(t, testSpec(OneForOne, Permanent, "a", "b"), false)
	st, err := c.remove(t0, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(st, EventStopped) {
		t.Fatalf("removing a running child noted %+v, want a stop", st.events)
	}
}

// gathered returns the value of the series name{actor=...} from reg (any
// series of name when actorLabel is ""), or fails the test if there is none.
func gathered(t *testing.T, reg prometheus.Gatherer, name, actorLabel string) float64 {
	t.Helper()
	var labels map[string]string
	if actorLabel != "" {
		labels = map[string]string{"actor": actorLabel}
	}
	v, found, err := metricstest.Value(reg, name, labels)
	if err != nil || !found {
		t.Fatalf("no series %s{actor=%q}: %v", name, actorLabel, err)
	}
	return v
}

func TestBreakerMetricsAfterTheBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "jobs", "dag")}, l)
		if got := gathered(t, r.reg, "icn_breaker_state", "/icn/jobs"); got != 0 {
			t.Fatalf("icn_breaker_state of a healthy child = %v", got)
		}
		r.who(t, "jobs")
		r.breakOnStart(t, l, "jobs")
		if got := gathered(t, r.reg, "icn_breaker_state", "/icn/jobs"); got != float64(Open) {
			t.Errorf("icn_breaker_state{actor=/icn/jobs} = %v, want %d (open)", got, Open)
		}
		if got := gathered(t, r.reg, "icn_breaker_state", "/icn/dag"); got != 0 {
			t.Errorf("icn_breaker_state{actor=/icn/dag} = %v, want 0", got)
		}
		// The kill and one failed start per restart the budget (3) allowed.
		n := r.node(t, "jobs")
		failures := gathered(t, r.reg, "icn_actor_failures_total", "/icn/jobs")
		if failures != float64(n.Failures) || failures < 4 {
			t.Errorf("icn_actor_failures_total{actor=/icn/jobs} = %v, registry says %d, want at least 4", failures, n.Failures)
		}
		if got := gathered(t, r.reg, "icn_actor_failures_total", "/icn/dag"); got != 0 {
			t.Errorf("icn_actor_failures_total{actor=/icn/dag} = %v, want 0", got)
		}
	})
}

func TestDeadLettersAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, Spec{Name: "icn", Children: workers(&lab{}, Permanent, "dag")}, &lab{})
		before := gathered(t, r.reg, "icn_deadletters_total", "")
		sys := r.tree.System()
		sys.Root.Send(sys.NewLocalPID("icn/gone"), &whoAreYou{})
		synctest.Wait()
		if got := gathered(t, r.reg, "icn_deadletters_total", ""); got != before+1 {
			t.Fatalf("icn_deadletters_total = %v after one dead letter, was %v", got, before)
		}
	})
}

// backlog is a message the blocked actors of these tests ignore.
type backlog struct{}

func TestMailboxGaugeShowsABacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "slow", Restart: Permanent, New: func() actor.Actor { return &stuck{release: release} }}}}
		r := start(t, spec, &lab{})
		if err := r.tree.Send(t.Context(), "slow", &explode{}); err != nil { // occupies the actor
			t.Fatal(err)
		}
		synctest.Wait()
		const queued = 5
		for range queued {
			if err := r.tree.Send(t.Context(), "slow", &backlog{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.node(t, "slow").Mailbox; got != queued {
			t.Errorf("registry mailbox of a blocked actor = %d, want %d", got, queued)
		}
		if got := gathered(t, r.reg, "icn_actor_mailbox_messages", "/icn/slow"); got != queued {
			t.Errorf("icn_actor_mailbox_messages{actor=/icn/slow} = %v, want %d", got, queued)
		}
		close(release)
		synctest.Wait()
		if got := gathered(t, r.reg, "icn_actor_mailbox_messages", "/icn/slow"); got != 0 {
			t.Errorf("icn_actor_mailbox_messages after the backlog drained = %v", got)
		}
	})
}

// gate is a test worker that can be broken on start (by its lab) and blocks
// in explode until released.
type gate struct {
	lab     *lab
	name    string
	release chan struct{}
}

func (g *gate) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		if b, _ := g.lab.broken.Load(g.name); b == true {
			panic("broken on start: " + g.name)
		}
	case *explode:
		<-g.release
	case *whoAreYou:
		c.Respond(&iAm{Name: g.name})
	}
}

func TestHalfOpenAdmitsOnlyItsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, release := &lab{}, make(chan struct{})
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "jobs", Restart: Permanent,
			New: func() actor.Actor { return &gate{lab: l, name: "jobs", release: release} }}}}
		r := start(t, spec, l)
		r.who(t, "jobs")
		r.breakOnStart(t, l, "jobs")
		l.broken.Store("jobs", false)
		time.Sleep(fastDefaults().Breaker.OpenTimeout)
		synctest.Wait()
		if n := r.node(t, "jobs"); n.Breaker != "half_open" || n.Status != "running" {
			t.Fatalf("after the open timeout: %+v", n)
		}

		// Probes = 2: a message that holds the actor, and a call behind it.
		if err := r.tree.Send(t.Context(), "jobs", &explode{}); err != nil {
			t.Fatalf("first probe: %v", err)
		}
		probe, err := r.tree.Begin(t.Context(), "jobs", &whoAreYou{})
		if err != nil {
			t.Fatalf("second probe: %v", err)
		}
		began := time.Now()
		_, err = r.tree.Request(t.Context(), "jobs", &whoAreYou{})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.State != "half_open" || ue.RetryAfter <= 0 {
			t.Fatalf("a call beyond the probes: %v, want unavailable while half_open", err)
		}
		if waited := time.Since(began); waited != 0 {
			t.Fatalf("the call beyond the probes waited %s", waited)
		}

		close(release)
		if res, err := probe.Wait(t.Context()); err != nil || res.(*iAm).Name != "jobs" {
			t.Fatalf("second probe answered %v, %v", res, err)
		}
		synctest.Wait()
		if n := r.node(t, "jobs"); n.Breaker != "closed" {
			t.Fatalf("after a successful probe: %+v", n)
		}
		r.who(t, "jobs")
	})
}
