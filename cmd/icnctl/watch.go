package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/intercooperative-network/icn-go/services/logging"
	"github.com/intercooperative-network/icn-go/supervisors"
)

const (
	eventsPath = "/admin/events"
	actorsPath = "/admin/actors"
	// clearScreen moves the cursor home and clears the terminal.
	clearScreen = "\x1b[H\x1b[2J"
)

// watchMode is how the live view prints.
type watchMode int

const (
	watchLines  watchMode = iota // the tree once, then one line per event
	watchJSON                    // one JSON object per event, as the node sent it
	watchFrames                  // a terminal: the tree redrawn after events
)

// watcher is one run of icnctl actors watch.
type watcher struct {
	c           *client
	out, errOut io.Writer
	mode        watchMode
	once        bool
	now         func() time.Time
	coalesce    time.Duration
	backoffMin  time.Duration
	backoffMax  time.Duration

	tree    supervisors.Node
	treeErr error
	recent  []string // the last recentEvents events, newest last
	state   string   // the connection, as the frame's header says it
}

// run shows the tree and follows the events until ctx ends (nil), --once is
// satisfied (nil), or the node refuses the watcher (an error). A stream that
// drops is reconnected after a delay that doubles up to backoffMax, and
// starts over once a connection has lasted that long.
func (w *watcher) run(ctx context.Context) error {
	// Subscribe first, then read the tree: no event falls between the two.
	res, err := w.c.openStream(ctx, eventsPath)
	if err != nil {
		return err
	}
	if w.mode != watchJSON {
		if err := w.fetch(ctx); err != nil {
			res.Body.Close()
			return err
		}
		w.state = "live"
		if err := w.show(); err != nil {
			res.Body.Close()
			return err
		}
	}
	backoff, since := w.backoffMin, time.Now()
	for {
		done, err := w.follow(ctx, res.Body)
		res.Body.Close()
		if done || ctx.Err() != nil {
			return nil
		}
		if time.Since(since) >= w.backoffMax {
			backoff = w.backoffMin // it was a healthy connection: start over
		}
		for {
			if refused(err) {
				return err
			}
			if err := w.lost(err, backoff); err != nil {
				return err
			}
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, w.backoffMax)
			if res, err = w.c.openStream(ctx, eventsPath); err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
		}
		since = time.Now()
		if err := w.reconnected(ctx); err != nil {
			return err
		}
	}
}

// refused: retrying cannot help (a missing or wrong token, a node without
// the endpoint).
func refused(err error) bool {
	var te *TokenError
	var ae *APIError
	return errors.As(err, &te) || errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500
}

// sleep waits d, or less if ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// follow reads one connection's events. It returns done when --once is
// satisfied, otherwise why the stream ended.
func (w *watcher) follow(ctx context.Context, body io.ReadCloser) (done bool, err error) {
	msgs := make(chan sseEvent, 256)
	quit := make(chan struct{})
	var readErr error
	go func() {
		defer close(msgs)
		readErr = readSSE(body, func(ev sseEvent) bool {
			select {
			case msgs <- ev:
				return true
			case <-quit:
				return false
			}
		})
	}()
	defer func() {
		close(quit)
		body.Close()
		for range msgs { // wait for the reader to end
		}
	}()

	var redraw <-chan time.Time // armed while a redraw is pending
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-msgs:
			if !ok {
				if readErr == nil || errors.Is(readErr, io.EOF) {
					readErr = errors.New("the node closed the event stream")
				}
				return false, readErr
			}
			counted, err := w.handle(ev)
			if err != nil {
				return false, err
			}
			if !counted {
				continue
			}
			if w.mode != watchFrames {
				if w.once {
					return true, nil
				}
				continue
			}
			// Coalesce: the first event of a burst arms the timer, the
			// rest only join the list; one fetch and one frame follow.
			if redraw == nil {
				timer = time.NewTimer(w.coalesce)
				redraw = timer.C
			}
		case <-redraw:
			redraw, timer = nil, nil
			_ = w.fetch(ctx) // a failed fetch shows in the frame
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if err := w.draw(); err != nil {
				return false, err
			}
			if w.once {
				return true, nil
			}
		}
	}
}

// handle takes one event from the stream; counted says it was a supervision
// event (or news the view must show).
func (w *watcher) handle(e sseEvent) (counted bool, err error) {
	switch e.Name {
	case "supervision":
		ev, err := decodeEvent(e.Data)
		if err != nil {
			return false, w.note("skipped an event: " + err.Error())
		}
		switch w.mode {
		case watchJSON:
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(e.Data)); err != nil {
				return false, w.note("skipped an event: " + err.Error())
			}
			buf.WriteByte('\n')
			_, err = w.out.Write(buf.Bytes())
			return true, err
		case watchLines:
			_, err = fmt.Fprintln(w.out, watchLine(ev, "2006-01-02T15:04:05.000Z07:00"))
			return true, err
		default:
			w.remember(watchLine(ev, "15:04:05.000"))
			return true, nil
		}
	case "dropped":
		n, err := decodeDropped(e.Data)
		if err != nil {
			return false, w.note("skipped an event: " + err.Error())
		}
		msg := fmt.Sprintf("the node dropped %s for this watcher (it read too slowly)", countLabel(n, "event"))
		if w.mode == watchFrames {
			w.remember(w.now().Format("15:04:05.000") + "  " + msg)
			return true, nil // the tree changed in ways the list does not show
		}
		return false, w.note(msg)
	}
	return false, nil // an event icnctl does not know: a newer node
}

// watchLine is an event's line with the id of the request that caused it,
// if any, keyed as in the node's log so one grep finds both.
func watchLine(ev supervisors.Event, layout string) string {
	line := eventLine(ev, layout)
	if ev.RequestID != "" {
		line += "  " + logging.RequestIDKey + "=" + clean(ev.RequestID)
	}
	return line
}

// remember keeps the last recentEvents lines.
func (w *watcher) remember(line string) {
	w.recent = append(w.recent, line)
	if n := len(w.recent); n > recentEvents {
		w.recent = append(w.recent[:0], w.recent[n-recentEvents:]...)
	}
}

// note tells the operator something about the stream: in the frame, or on
// stderr so that stdout stays a clean log.
func (w *watcher) note(msg string) error {
	if w.mode == watchFrames {
		w.remember(w.now().Format("15:04:05.000") + "  " + clean(msg))
		return nil
	}
	_, err := fmt.Fprintf(w.errOut, "icnctl: %s\n", clean(msg))
	return err
}

func (w *watcher) lost(err error, wait time.Duration) error {
	msg := fmt.Sprintf("event stream lost (%v); reconnecting in %s", err, wait)
	if w.mode == watchFrames {
		w.state = clean(msg)
		return w.draw()
	}
	return w.note(msg)
}

func (w *watcher) reconnected(ctx context.Context) error {
	if w.mode != watchFrames {
		return w.note("event stream reconnected")
	}
	w.state = "live (reconnected)"
	_ = w.fetch(ctx)
	return w.draw()
}

// fetch reads the tree again.
func (w *watcher) fetch(ctx context.Context) error {
	var n supervisors.Node
	_, err := w.c.getJSON(ctx, actorsPath, true, &n)
	w.treeErr = err
	if err == nil {
		w.tree = n
	}
	return err
}

// show prints the tree at the start.
func (w *watcher) show() error {
	if w.mode == watchFrames {
		return w.draw()
	}
	renderTree(w.out, w.tree)
	_, err := fmt.Fprintf(w.errOut, "icnctl: watching supervision events at %s (Ctrl-C to stop)\n", hostPort(w.c.t.base))
	return err
}

// draw prints one frame: the tree and the recent events, in one write.
func (w *watcher) draw() error {
	var b bytes.Buffer
	b.WriteString(clearScreen)
	fmt.Fprintf(&b, "icn supervision tree at %s, %s, %s\n\n", hostPort(w.c.t.base), w.now().Format("15:04:05"), w.state)
	if w.treeErr != nil {
		fmt.Fprintf(&b, "tree unavailable: %s\n", clean(w.treeErr.Error()))
	} else {
		renderTree(&b, w.tree)
	}
	b.WriteString("\nRecent events (newest last):\n")
	if len(w.recent) == 0 {
		b.WriteString("  none yet\n")
	}
	for _, l := range w.recent {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("\nCtrl-C to quit\n")
	_, err := w.out.Write(b.Bytes())
	return err
}
