package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Everything icnctl prints in text comes through clean: the node's strings
// (failure reasons, error messages, details) may hold anything, and must not
// move the cursor or recolour the operator's terminal.

// writeJSON prints raw JSON indented, as -o json promises.
func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("icnd answered malformed JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// writeValue prints v as indented JSON (for answers icnctl assembles).
func writeValue(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0) }

// renderNode prints who the node is.
func renderNode(w io.Writer, n httpapi.NodeInfo, now time.Time) {
	tw := newTable(w)
	fmt.Fprintf(tw, "DID\t%s\n", clean(n.DID))
	fmt.Fprintf(tw, "Peer ID\t%s\n", clean(n.PeerID))
	fmt.Fprintf(tw, "Version\t%s\n", clean(n.Version))
	fmt.Fprintf(tw, "Profile\t%s\n", clean(n.Profile))
	fmt.Fprintf(tw, "Uptime\t%s\n", uptime(n.StartedAt, now))
	renderList(tw, "Addrs", n.Addrs)
	tw.Flush()
}

func uptime(started, now time.Time) string {
	if started.IsZero() {
		return "unknown"
	}
	d := now.Sub(started)
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%s (since %s)", d.Round(time.Second), started.UTC().Format(time.RFC3339))
}

// subsystemOrder lists the subsystems in the node's spec order (as
// /api/v1/subsystems gives them), then any others health knows, sorted.
func subsystemOrder(h httpapi.Health, subs *httpapi.SubsystemsReply) []string {
	var order []string
	seen := map[string]bool{}
	if subs != nil {
		for _, e := range subs.Subsystems {
			if !seen[e.Name] {
				order = append(order, e.Name)
				seen[e.Name] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Subsystems)) {
		if !seen[name] {
			order = append(order, name)
		}
	}
	return order
}

// renderHealth prints the overall status and one line per subsystem.
func renderHealth(w io.Writer, h httpapi.Health, order []string) {
	serving := 0
	for _, sh := range h.Subsystems {
		if sh.Serving {
			serving++
		}
	}
	fmt.Fprintf(w, "Health: %s (%d of %d subsystems serving)\n\n", clean(h.Status), serving, len(h.Subsystems))
	if len(h.Subsystems) == 0 {
		fmt.Fprintln(w, "no subsystems")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "SUBSYSTEM\tSTATE\tBREAKER\tSERVING\tERROR")
	for _, name := range order {
		sh, ok := h.Subsystems[name]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(name), clean(sh.State), clean(sh.Breaker), yesNo(sh.Serving), dash(clean(sh.Error)))
	}
	tw.Flush()
}

// renderStatus is icnctl status: identity, health, and each subsystem's own word.
func renderStatus(w io.Writer, n httpapi.NodeInfo, h httpapi.Health, subs httpapi.SubsystemsReply, now time.Time) {
	renderNode(w, n, now)
	fmt.Fprintln(w)
	renderHealth(w, h, subsystemOrder(h, &subs))
	if len(subs.Subsystems) > 0 {
		fmt.Fprintln(w)
		renderSubsystems(w, subs, now)
	}
}

// renderSubsystems prints each subsystem's own status, or why it gave none.
func renderSubsystems(w io.Writer, subs httpapi.SubsystemsReply, now time.Time) {
	if len(subs.Subsystems) == 0 {
		fmt.Fprintln(w, "no subsystems")
		return
	}
	for i, e := range subs.Subsystems {
		if i > 0 {
			fmt.Fprintln(w)
		}
		switch {
		case e.Error != nil:
			fmt.Fprintf(w, "%s (%s): %s\n", clean(e.Name), clean(e.Path), errorText(*e.Error))
		case e.Status != nil:
			fmt.Fprintf(w, "%s (%s): ", clean(e.Name), clean(e.Path))
			renderStatusBody(w, *e.Status, now)
		default:
			fmt.Fprintf(w, "%s (%s): no status\n", clean(e.Name), clean(e.Path))
		}
	}
}

// renderSubsystem prints one subsystem's status (icnctl subsystems NAME).
func renderSubsystem(w io.Writer, st messages.SubsystemStatus, now time.Time) {
	fmt.Fprintf(w, "%s: ", clean(st.Name))
	renderStatusBody(w, st, now)
}

func renderStatusBody(w io.Writer, st messages.SubsystemStatus, now time.Time) {
	state := "ready"
	if !st.Ready {
		state = "not ready"
	}
	fmt.Fprintf(w, "%s, up %s\n", state, uptime(st.Since, now))
	if len(st.Details) == 0 {
		return
	}
	tw := newTable(w)
	for _, k := range slices.Sorted(maps.Keys(st.Details)) {
		fmt.Fprintf(tw, "  %s\t%s\n", clean(k), clean(st.Details[k]))
	}
	tw.Flush()
}

func errorText(e httpapi.ErrorBody) string {
	if e.Code == "" {
		return clean(e.Error)
	}
	return fmt.Sprintf("%s (%s)", clean(e.Error), clean(e.Code))
}

// renderReady prints readiness and why not.
func renderReady(w io.Writer, r httpapi.Readiness) {
	if r.Ready {
		fmt.Fprintln(w, "ready")
		return
	}
	fmt.Fprintln(w, "not ready:")
	if len(r.Reasons) == 0 {
		fmt.Fprintln(w, "  (no reason given)")
	}
	for _, reason := range r.Reasons {
		fmt.Fprintf(w, "  - %s\n", clean(reason))
	}
}

// renderTree prints the supervision tree, one aligned line per actor.
func renderTree(w io.Writer, root supervisors.Node) {
	tw := newTable(w)
	fmt.Fprintln(tw, "ACTOR\tKIND\tSTATUS\tBREAKER\tRESTARTS\tFAILURES\tMAILBOX\tPROCESSED\tLAST FAILURE")
	var walk func(n supervisors.Node, prefix, branch string)
	walk = func(n supervisors.Node, prefix, branch string) {
		fmt.Fprintf(tw, "%s%s%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", prefix, branch, clean(n.Name),
			kind(n), clean(n.Status), breaker(n), n.Restarts, n.Failures, n.Mailbox, n.Processed, lastFailure(n.LastFailure))
		switch branch {
		case "├─ ":
			prefix += "│  "
		case "└─ ":
			prefix += "   "
		}
		for i, c := range n.Children {
			b := "├─ "
			if i == len(n.Children)-1 {
				b = "└─ "
			}
			walk(c, prefix, b)
		}
	}
	walk(root, "", "")
	tw.Flush()
}

func kind(n supervisors.Node) string {
	if n.Strategy != "" {
		return clean(n.Kind) + "/" + clean(n.Strategy)
	}
	return clean(n.Kind)
}

func breaker(n supervisors.Node) string {
	if n.BreakerTrips == 0 {
		return clean(n.Breaker)
	}
	trips := "trips"
	if n.BreakerTrips == 1 {
		trips = "trip"
	}
	return fmt.Sprintf("%s (%d %s)", clean(n.Breaker), n.BreakerTrips, trips)
}

// lastFailure is the first line of the reason, shortened, with when and on what.
func lastFailure(f *supervisors.FailureInfo) string {
	if f == nil {
		return "-"
	}
	reason, _, _ := strings.Cut(strings.TrimSpace(f.Reason), "\n")
	reason = shorten(clean(reason), 60)
	var at []string
	if !f.Time.IsZero() {
		at = append(at, f.Time.UTC().Format("15:04:05Z"))
	}
	if f.MessageType != "" {
		at = append(at, "on "+clean(f.MessageType))
	}
	if len(at) > 0 {
		reason += " (" + strings.Join(at, ", ") + ")"
	}
	return reason
}

// renderKill says what the node accepted.
func renderKill(w io.Writer, k httpapi.KillAccepted) {
	fmt.Fprintf(w, "kill accepted: %s (%s); its supervisor decides what happens next (icnctl actors watch)\n", clean(k.Path), clean(k.Mode))
}

// eventLine is one supervision event on one line; layout formats its time.
func eventLine(ev supervisors.Event, layout string) string {
	var b strings.Builder
	b.WriteString(ev.Time.Format(layout))
	b.WriteString("  ")
	b.WriteString(clean(ev.Path))
	b.WriteString("  ")
	b.WriteString(clean(string(ev.Type)))
	switch {
	case ev.From != "" || ev.To != "":
		fmt.Fprintf(&b, " %s -> %s", dash(clean(ev.From)), dash(clean(ev.To)))
	}
	if ev.Delay > 0 {
		fmt.Fprintf(&b, " in %s", ev.Delay)
	}
	if ev.Reason != "" {
		reason, _, _ := strings.Cut(strings.TrimSpace(ev.Reason), "\n")
		b.WriteString(": ")
		b.WriteString(shorten(clean(reason), 100))
	}
	return b.String()
}

// clean replaces control characters (escape sequences, newlines) so a
// string from the node prints as one inert line.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// countLabel is "1 event" or "3 events".
func countLabel(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatUint(n, 10) + " " + noun + "s"
}

// humanBytes is n in B, KiB, MiB, GiB or TiB.
func humanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 && v > -1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// stamp shows one of the node's RFC 3339 times to the second, in UTC.
func stamp(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return dash(clean(s))
	}
	return t.UTC().Format(time.RFC3339)
}

// renderBlockStat prints what the node knows of a block.
func renderBlockStat(w io.Writer, st httpapi.BlockStat) {
	retention := "passed"
	if st.TTLSeconds > 0 {
		retention = (time.Duration(st.TTLSeconds) * time.Second).String() + " left"
	}
	switch {
	case st.Pinned:
		retention += "; kept while pinned"
	case st.TTLSeconds <= 0:
		retention += "; the next GC removes it unless a pin reaches it"
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "CID\t%s\n", clean(st.CID))
	fmt.Fprintf(tw, "Codec\t%s\n", clean(st.Codec))
	fmt.Fprintf(tw, "Size\t%d bytes\n", st.Size)
	fmt.Fprintf(tw, "Pin\t%s\n", dash(clean(st.Pin)))
	fmt.Fprintf(tw, "Stored\t%s\n", stamp(st.StoredAt))
	fmt.Fprintf(tw, "Expires\t%s (%s)\n", stamp(st.ExpiresAt), retention)
	renderList(tw, "Links", st.Links)
	tw.Flush()
}

// renderList prints a labelled list, one item a line, "-" when empty.
func renderList(tw io.Writer, label string, items []string) {
	if len(items) == 0 {
		fmt.Fprintf(tw, "%s\t-\n", label)
	}
	for i, s := range items {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, clean(s))
	}
}

func pinKind(recursive bool) string {
	if recursive {
		return "recursive"
	}
	return "direct"
}

// renderPinned says what was pinned, and what of it the node lacks.
func renderPinned(w io.Writer, p httpapi.PinResult) {
	fmt.Fprintf(w, "pinned %s (%s)\n", clean(p.CID), pinKind(p.Recursive))
	if p.Missing > 0 {
		fmt.Fprintf(w, "this node lacks %s under it; they are kept once they arrive (icnctl dag import)\n",
			countLabel(uint64(p.Missing), "block"))
	}
}

// renderUnpinned says which pin was removed.
func renderUnpinned(w io.Writer, p httpapi.PinResult) {
	fmt.Fprintf(w, "unpinned %s (%s, pinned since %s); it is kept until its retention passes, or while another pin reaches it\n",
		clean(p.CID), pinKind(p.Recursive), stamp(p.PinnedAt))
}

// renderPins prints one line per pin.
func renderPins(w io.Writer, l httpapi.PinList) {
	if len(l.Pins) == 0 {
		fmt.Fprintln(w, "no pins")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "CID\tPIN\tPINNED AT")
	for _, p := range l.Pins {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", clean(p.CID), pinKind(p.Recursive), stamp(p.PinnedAt))
	}
	tw.Flush()
}

func renderRefs(w io.Writer, l httpapi.RefList) {
	if len(l.Refs) == 0 {
		fmt.Fprintln(w, "no refs")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tCID\tUPDATED AT")
	for _, r := range l.Refs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", clean(r.Name), clean(r.CID), stamp(r.UpdatedAt))
	}
	tw.Flush()
	if l.Next != "" {
		fmt.Fprintf(w, "more: icnctl dag refs --after %s\n", clean(l.Next))
	}
}

// renderGC prints what a collection removed and kept, listing the first
// shownRemoved removed CIDs.
func renderFetch(w io.Writer, r httpapi.FetchResult) {
	took := time.Duration(r.TookMS * float64(time.Millisecond)).Round(time.Microsecond)
	fmt.Fprintf(w, "%s: %s, %d fetched (%s) in %s", clean(r.Root), countLabel(uint64(max(r.Blocks, 0)), "block"),
		r.Fetched, humanBytes(r.Bytes), took)
	if r.Pinned {
		fmt.Fprint(w, "; pinned")
	}
	fmt.Fprintln(w)
}

func renderGC(w io.Writer, r httpapi.GCResult) {
	took := time.Duration(r.TookMS * float64(time.Millisecond)).Round(time.Microsecond)
	fmt.Fprintf(w, "removed %s (%s), kept %d, in %s\n", countLabel(uint64(max(r.RemovedCount, 0)), "block"),
		humanBytes(r.RemovedBytes), r.Kept, took)
	shown := r.Removed[:min(len(r.Removed), shownRemoved)]
	for _, c := range shown {
		fmt.Fprintf(w, "  %s\n", clean(c))
	}
	if more := max(r.RemovedCount, len(r.Removed)) - len(shown); more > 0 {
		fmt.Fprintf(w, "  and %d more\n", more)
	}
}

// renderImport prints what an import stored.
func renderImport(w io.Writer, r httpapi.ImportResult) {
	tw := newTable(w)
	renderList(tw, "Roots", r.Roots)
	fmt.Fprintf(tw, "Blocks\t%d (%d new)\n", r.Blocks, r.New)
	fmt.Fprintf(tw, "Bytes\t%s\n", humanBytes(r.Bytes))
	fmt.Fprintf(tw, "Pinned\t%s\n", yesNo(r.Pinned))
	tw.Flush()
}

// renderAccounts prints one line per local account; the node's own is
// first (the node lists it first).
func renderAccounts(w io.Writer, l httpapi.AccountList) {
	if len(l.Accounts) == 0 {
		fmt.Fprintln(w, "no local accounts")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "ACCOUNT\tAVAILABLE\tRESERVED\tBALANCE\tRESERVATIONS\tSEQ")
	for i, acct := range l.Accounts {
		name := clean(acct.DID)
		if i == 0 {
			name += " (node)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", name, acct.Available, acct.Reserved, acct.Balance, acct.Reservations, acct.Seq)
	}
	tw.Flush()
}

// renderAccount prints an account's state.
func renderAccount(w io.Writer, acct httpapi.Account) {
	tw := newTable(w)
	fmt.Fprintf(tw, "Account\t%s\n", clean(acct.DID))
	fmt.Fprintf(tw, "Available\t%d\n", acct.Available)
	fmt.Fprintf(tw, "Reserved\t%d (%s)\n", acct.Reserved, countLabel(uint64(max(acct.Reservations, 0)), "reservation"))
	fmt.Fprintf(tw, "Balance\t%d\n", acct.Balance)
	fmt.Fprintf(tw, "Regeneration\t%d per hour, up to %d\n", acct.RegenPerHour, acct.Capacity)
	fmt.Fprintf(tw, "Head\t%s (seq %d)\n", dash(clean(acct.Head)), acct.Seq)
	fmt.Fprintf(tw, "As of\t%s\n", stamp(acct.AsOf))
	tw.Flush()
}

// renderEntries prints a page of an account's chain, newest first, and how
// to ask for the next page.
func renderEntries(w io.Writer, did string, l httpapi.EntryList) {
	if len(l.Entries) == 0 {
		fmt.Fprintln(w, "no entries")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "SEQ\tTIME\tOP\tAMOUNT\tCOUNTERPARTY\tREF\tAVAILABLE\tRESERVED\tMEMO")
	for _, e := range l.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", e.Seq, stamp(e.Time), clean(e.Op), e.Amount,
			dash(clean(e.Counterparty)), dash(clean(e.Ref)), e.BalanceAfter, e.ReservedAfter, dash(shorten(clean(e.Memo), 40)))
	}
	tw.Flush()
	if l.Next > 0 {
		fmt.Fprintf(w, "more: icnctl mana history %s --before %d\n", clean(did), l.Next)
	}
}

// renderReceive says where a payment landed: on the payee's local chain,
// or on its own node.
func renderReceive(w io.Writer, payee string, recv *httpapi.LedgerEntry) {
	if recv == nil {
		fmt.Fprintf(w, "%s is not local: its own node records the receive\n", clean(payee))
		return
	}
	fmt.Fprintf(w, "%s received it here (seq %d); it has %d available\n", clean(recv.Account), recv.Seq, recv.BalanceAfter)
}

// renderTransfer says what a transfer recorded.
func renderTransfer(w io.Writer, r httpapi.TransferResult) {
	s := r.Send
	if r.Replayed {
		// The entries are the first transfer's: their balances are then's.
		fmt.Fprintf(w, "already sent under this key, nothing paid now: %d from %s to %s (seq %d), after which %s had %d available\n",
			s.Amount, clean(s.Account), clean(s.Counterparty), s.Seq, clean(s.Account), s.BalanceAfter)
		if r.Receive != nil {
			fmt.Fprintf(w, "%s received it here (seq %d)\n", clean(r.Receive.Account), r.Receive.Seq)
		}
		return
	}
	fmt.Fprintf(w, "sent %d from %s to %s (seq %d); %s has %d available\n", s.Amount, clean(s.Account), clean(s.Counterparty),
		s.Seq, clean(s.Account), s.BalanceAfter)
	renderReceive(w, s.Counterparty, r.Receive)
}

// renderReserve says what a reservation holds.
func renderReserve(w io.Writer, r httpapi.EntryResult) {
	e := r.Entry
	fmt.Fprintf(w, "reserved %d of %s for %s (seq %d); it has %d available, %d reserved\n", e.Amount, clean(e.Account),
		clean(e.Ref), e.Seq, e.BalanceAfter, e.ReservedAfter)
}

// renderRelease says what a release returned.
func renderRelease(w io.Writer, r httpapi.EntryResult) {
	e := r.Entry
	fmt.Fprintf(w, "released %s of %s: %d back (seq %d); it has %d available, %d reserved\n", clean(e.Ref), clean(e.Account),
		e.Amount, e.Seq, e.BalanceAfter, e.ReservedAfter)
}

// renderSettle says what a settlement paid, and where it landed.
func renderSettle(w io.Writer, r httpapi.EntryResult) {
	e := r.Entry
	fmt.Fprintf(w, "settled %s of %s: paid %d to %s (seq %d); it has %d available, %d reserved\n", clean(e.Ref), clean(e.Account),
		e.Amount, clean(e.Counterparty), e.Seq, e.BalanceAfter, e.ReservedAfter)
	if e.Amount > 0 {
		renderReceive(w, e.Counterparty, r.Receive)
	}
}

// renderVerify prints a chain's verification and, if it failed, why.
func renderVerify(w io.Writer, v httpapi.VerifyReport) {
	took := time.Duration(v.TookMS * float64(time.Millisecond)).Round(time.Microsecond)
	if v.Valid {
		fmt.Fprintf(w, "valid: %s, %s up to %s, checked in %s\n", clean(v.Account), entryCount(v.Entries),
			dash(clean(v.Head)), took)
		return
	}
	fmt.Fprintf(w, "INVALID: %s, %s in %s up to %s, checked in %s\n", clean(v.Account), countLabel(uint64(len(v.Problems)), "problem"),
		entryCount(v.Entries), dash(clean(v.Head)), took)
	if len(v.Problems) == 0 {
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "SEQ\tCID\tREASON\tDETAIL")
	for _, p := range v.Problems {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Seq, dash(clean(p.CID)), clean(p.Reason), dash(shorten(clean(p.Detail), 100)))
	}
	tw.Flush()
}

// renderReputation prints an executor's record on this node.
func renderReputation(w io.Writer, r httpapi.Reputation) {
	mean := "-"
	if r.Jobs > 0 {
		mean = time.Duration(r.MeanDurationMS * float64(time.Millisecond)).Round(time.Millisecond).String()
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "DID\t%s\n", clean(r.DID))
	fmt.Fprintf(tw, "Score\t%d of 100\n", r.Score)
	fmt.Fprintf(tw, "Jobs\t%d (%d succeeded, %d failed)\n", r.Jobs, r.Successes, r.Failures)
	fmt.Fprintf(tw, "Mean duration\t%s\n", mean)
	tw.Flush()
}

// entryCount is "1 entry" or "3 entries".
func entryCount(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return strconv.Itoa(n) + " entries"
}

// shortPeerID is a peer ID cut to its first 8 and last 6 characters: the
// first 8 of every Ed25519 peer ID are the same (12D3KooW), the end tells
// them apart.
func shortPeerID(id string) string {
	if utf8.RuneCountInString(id) <= 16 {
		return id
	}
	r := []rune(id)
	return string(r[:8]) + "…" + string(r[len(r)-6:])
}

// rtt is a round trip in milliseconds, "-" when none was measured.
func rtt(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
}

// renderPeers prints one line per peer, connected ones first (the node's
// order); full keeps the peer IDs whole.
func renderPeers(w io.Writer, l httpapi.PeerList, full bool) {
	if len(l.Peers) == 0 {
		fmt.Fprintln(w, "no peers (icnctl peers connect ADDR dials one)")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "PEER\tDID\tCONNECTED\tSINCE\tRTT\tIN/OUT\tBREAKER")
	for _, p := range l.Peers {
		id := clean(p.PeerID)
		if !full {
			id = shortPeerID(id)
		}
		since := "-"
		if p.Connected {
			since = stamp(p.Since)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", id, dash(clean(p.DID)), yesNo(p.Connected), since, rtt(p.RTTMS),
			p.MessagesIn, p.MessagesOut, dash(clean(p.Breaker)))
	}
	tw.Flush()
}

// renderConnected says which peer a dial reached.
func renderConnected(w io.Writer, p httpapi.Peer) {
	state := "connected to"
	if !p.Connected {
		state = "dialled, but not connected to" // the connection dropped at once
	}
	fmt.Fprintf(w, "%s %s (%s)\n", state, clean(p.PeerID), dash(clean(p.DID)))
}

// renderFaults lists the peers this node is cut off from.
func renderFaults(w io.Writer, f httpapi.Faults) {
	if len(f.Blocked) == 0 {
		fmt.Fprintln(w, "no peers blocked")
		return
	}
	fmt.Fprintf(w, "blocked (%s):\n", countLabel(uint64(len(f.Blocked)), "peer"))
	for _, p := range f.Blocked {
		fmt.Fprintf(w, "  %s\n", clean(p))
	}
}

// renderJob prints a job: its state, its history and its receipt.
func renderJob(w io.Writer, j httpapi.Job) {
	tw := newTable(w)
	fmt.Fprintf(tw, "Job\t%s\n", clean(j.JobID))
	fmt.Fprintf(tw, "State\t%s\n", clean(j.State))
	if j.Reason != "" {
		fmt.Fprintf(tw, "Reason\t%s\n", clean(j.Reason))
	}
	fmt.Fprintf(tw, "Module\t%s\n", clean(j.Spec.Module))
	fmt.Fprintf(tw, "Max mana\t%d\n", j.Spec.MaxMana)
	fmt.Fprintf(tw, "Executor\t%s\n", dash(clean(j.Executor)))
	if j.Executor != "" {
		fmt.Fprintf(tw, "Price\t%s\n", priceLabel(j.Price, j.FuelPrice))
	}
	if j.Cost > 0 {
		fmt.Fprintf(tw, "Cost\t%d\n", j.Cost)
	}
	if j.Spec.Verify == 2 {
		fmt.Fprintf(tw, "Verify\t2 executors must agree\n")
	}
	if j.Spec.MinReputation > 0 {
		fmt.Fprintf(tw, "Min reputation\t%d\n", j.Spec.MinReputation)
	}
	for _, w := range j.Witnesses {
		answer := "no receipt yet"
		if r := w.Receipt; r != nil {
			answer = fmt.Sprintf("output %s, exit %d, %d fuel", clean(r.Output), r.ExitCode, r.FuelUsed)
		}
		fmt.Fprintf(tw, "%s\t%s (price %s): %s\n", titleCase(clean(w.Role)), clean(w.Executor), priceLabel(w.Price, w.FuelPrice), answer)
	}
	for _, o := range j.Outvoted {
		fmt.Fprintf(tw, "Outvoted\t%s (not paid; reputation lowered)\n", clean(o))
	}
	fmt.Fprintf(tw, "Escrow\t%s\n", escrowLabel(j))
	if r := j.Receipt; r != nil {
		fmt.Fprintf(tw, "Receipt\t%s\n", clean(r.CID))
		fmt.Fprintf(tw, "Output\t%s\n", clean(r.Output))
		fmt.Fprintf(tw, "Exit code\t%d\n", r.ExitCode)
		cpu := "" // not measured (an executor that is not Linux, or an older receipt)
		if r.CPUMicros > 0 {
			cpu = fmt.Sprintf(", %.1f ms CPU", float64(r.CPUMicros)/1000)
		}
		fmt.Fprintf(tw, "Run\t%d ms%s, %d fuel, %s peak memory\n", r.WallMS, cpu, r.FuelUsed, humanBytes(int64(min(r.PeakMemoryBytes, 1<<62))))
		// The log's last lines: why a job exited non-zero is usually
		// there. The whole tail is in -o json.
		label := "Log"
		for _, line := range lastLines(string(r.Stderr), jobLogLines) {
			fmt.Fprintf(tw, "%s\t%s\n", label, clean(line))
			label = ""
		}
	}
	for i, h := range j.History {
		label := ""
		if i == 0 {
			label = "History"
		}
		fmt.Fprintf(tw, "%s\t%s  %s\n", label, stamp(h.Time), clean(h.State))
	}
	tw.Flush()
}

// priceLabel is a bid: its price, and its fuel price if it has one.
func priceLabel(price, fuelPrice uint64) string {
	if fuelPrice == 0 {
		return strconv.FormatUint(price, 10)
	}
	return fmt.Sprintf("%d + %d per 10^9 fuel", price, fuelPrice)
}

// titleCase capitalizes a one-word label (witness → Witness).
func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// jobLogLines is how much of a receipt's log icnctl job get shows.
const jobLogLines = 5

// lastLines returns the last n non-empty lines of s.
func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(0, len(lines)-n):]
}

func escrowLabel(j httpapi.Job) string {
	switch {
	case j.Settled:
		return "released"
	case j.State == "submitted":
		return "not yet taken"
	default:
		return "held"
	}
}

// renderJobs prints one line per job, and how to ask for the next page.
func renderJobs(w io.Writer, l httpapi.JobList) {
	if len(l.Jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "JOB\tSTATE\tSUBMITTED\tEXECUTOR\tREASON")
	for _, j := range l.Jobs {
		submitted := "-"
		if len(j.History) > 0 {
			submitted = stamp(j.History[0].Time)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(j.JobID), clean(j.State), submitted, dash(shorten(clean(j.Executor), 24)),
			dash(shorten(clean(j.Reason), 40)))
	}
	tw.Flush()
	if l.Next != "" {
		fmt.Fprintf(w, "more: icnctl job list --after %s\n", clean(l.Next))
	}
}
