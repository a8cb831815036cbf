//go:build linux

package amtlink

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/sys/unix"
)

func (c *client) Watch(ctx context.Context, opt WatchOptions, fn func(Event) error) error {
	if fn == nil {
		return &Error{Op: "watch", Err: errors.New("amtlink: Watch needs a function to call with each event")}
	}
	if opt.PollInterval < 0 {
		return &Error{Op: "watch", Err: &ifla.FieldError{Field: "interval", Value: opt.PollInterval.String(),
			Reason: "negative", Fix: "use a positive duration such as 200ms, or 0 for the default"}}
	}
	// Subscribed before the first listing, so no change falls between
	// the two.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, stop, err := c.subscribeTo(ctx, "watch", watchGroups)
	if err != nil {
		return err
	}
	err = c.watchLoop(ctx, opt, ch, fn)
	// Stop the reader and wait for it, so nothing outlives Watch.
	cancel()
	stop()
	return err
}

// watcher is the state of one Watch: the AMT links it knows by index.
type watcher struct {
	c     *client
	known map[uint32]*Link
	fn    func(Event) error
	now   func() time.Time
	// interval is the poll interval, also the pause before a resync is
	// tried again.
	interval time.Duration
	// retry fires when a resync has to be tried again.
	retry <-chan time.Time
}

// watchLoop runs Watch on the notifications arriving on ch, polling the
// gateways through c.
func (c *client) watchLoop(ctx context.Context, opt WatchOptions, ch <-chan received, fn func(Event) error) error {
	interval := opt.PollInterval
	if interval == 0 {
		interval = DefaultPollInterval
	}
	w := &watcher{c: c, known: make(map[uint32]*Link), fn: fn, now: time.Now, interval: interval}
	// The starting state: links that exist now are not reported.
	if err := w.resync(false); err != nil {
		return err
	}
	if opt.Ready != nil {
		opt.Ready()
	}
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		// Poll only while there is a gateway to poll.
		var tick <-chan time.Time
		if w.hasGateway() {
			if ticker == nil {
				ticker = time.NewTicker(interval)
			}
			tick = ticker.C
		} else if ticker != nil {
			ticker.Stop()
			ticker = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.retry:
			w.retry = nil
			if err := w.resyncOrRetry(); err != nil {
				return err
			}
		case r, ok := <-ch:
			if !ok {
				return socketClosed(ctx, "watch")
			}
			n := &names{c: w.c, op: "watch"}
			if err := eachNotification(ctx, "watch", r, func(nt Notification) error { return w.handle(n, nt) }); err != nil {
				return err
			}
		case <-tick:
			// A poll whose dump kept being interrupted is skipped: the
			// next one comes an interval later.
			if err := w.poll(); err != nil && !errors.Is(err, ErrDumpInterrupted) {
				return err
			}
		}
	}
}

func (w *watcher) hasGateway() bool {
	for _, l := range w.known {
		if isGateway(l) {
			return true
		}
	}
	return false
}

func isGateway(l *Link) bool { return l.AMT.Mode != nil && *l.AMT.Mode == ifla.ModeGateway }

func (w *watcher) emit(evs []Event) error {
	t := w.now()
	for _, e := range evs {
		e.Time = t
		if err := w.fn(e); err != nil {
			return err
		}
	}
	return nil
}

// handle processes one notification; n resolves lower device names for
// the notifications of one receive.
func (w *watcher) handle(n *names, nt Notification) error {
	switch nt.Type {
	case NotifyResync:
		// The kernel dropped notifications: list again and report
		// that, then what changed meanwhile.
		return w.resyncOrRetry()
	case NotifyLink:
		if nt.Device.Kind != Kind {
			return nil
		}
		r, err := decodeLink(nt.msg)
		if err != nil {
			return &Error{Op: "watch", Err: err}
		}
		cur, err := r.link(n)
		if err != nil {
			return err
		}
		prev := w.known[cur.Index]
		// The relay a notification carries is trusted only when the link
		// is new or went up or down: the kernel builds the message right
		// after ndo_open/ndo_stop (and ndo_stop clears a gateway's
		// relay), so then it matches the flags. Otherwise it may be older
		// than the last poll's, and relay changes are left to the polls.
		relay := prev == nil || prev.Up() != cur.Up()
		if !relay {
			cur.AMT.Remote = prev.AMT.Remote
		}
		w.known[cur.Index] = &cur
		return w.emit(transitions(prev, &cur, relay))
	case NotifyLinkDeleted:
		prev := w.known[nt.Device.Index]
		if prev == nil {
			return nil // not an amt link
		}
		delete(w.known, nt.Device.Index)
		return w.emit(transitions(prev, nil, false))
	}
	return nil
}

// poll asks the kernel for the AMT links' current relay and reports the
// gateways whose relay changed since the last poll.
func (w *watcher) poll() error {
	snap, err := w.c.dumpAMT("watch", true)
	if err != nil {
		return err
	}
	var evs []Event
	for _, r := range snap {
		prev := w.known[r.index]
		if prev == nil || !isGateway(prev) {
			continue // new links are reported from their notification
		}
		if (r.flags^prev.Flags)&unix.IFF_UP != 0 {
			// The link went up or down and its notification is still
			// on the way: it was queued, under the RTNL lock, before
			// this dump was answered. Leave the relay to it, so that
			// "down" comes before the "relay-lost" it causes and "up"
			// before "relay-discovered".
			continue
		}
		cur := *prev
		cur.AMT.Remote = r.amt.Remote
		evs = append(evs, transitions(prev, &cur, true)...)
		prev.AMT.Remote = r.amt.Remote
	}
	return w.emit(evs)
}

// resyncOrRetry resyncs, reporting what changed; when the listing kept
// changing under it (ErrDumpInterrupted, likely in the burst of changes that
// overran the notification socket), it arranges (w.retry) to try again a poll
// interval later instead of ending the watch.
func (w *watcher) resyncOrRetry() error {
	err := w.resync(true)
	if errors.Is(err, ErrDumpInterrupted) {
		w.retry = time.After(w.interval)
		return nil
	}
	return err
}

// resync lists the AMT links and, when report is set, reports
// EventResynced and then every difference from what the watcher knew.
func (w *watcher) resync(report bool) error {
	links, err := w.c.List()
	if err != nil {
		return err
	}
	var evs []Event
	seen := make(map[uint32]bool, len(links))
	for i := range links {
		cur := &links[i]
		seen[cur.Index] = true
		evs = append(evs, transitions(w.known[cur.Index], cur, true)...)
		w.known[cur.Index] = cur
	}
	var gone []*Link
	for idx, l := range w.known {
		if !seen[idx] {
			gone = append(gone, l)
			delete(w.known, idx)
		}
	}
	slices.SortFunc(gone, func(a, b *Link) int { return cmp.Compare(a.Index, b.Index) })
	for _, l := range gone {
		evs = append(evs, transitions(l, nil, false)...)
	}
	if !report {
		return nil
	}
	return w.emit(append([]Event{{Type: EventResynced}}, evs...))
}

// transitions classifies the change of one AMT link from prev to cur into
// events, in the order they are reported. prev nil means the link is new
// (created, then up if it is up, then relay-discovered if it already knows
// its relay); cur nil means it is gone (deleted). Otherwise an IFF_UP change
// gives up or down, and, when relay is set, a change of AMT.Remote gives
// relay-discovered, relay-changed or relay-lost. Event.Time is left zero.
func transitions(prev, cur *Link, relay bool) []Event {
	switch {
	case prev == nil && cur == nil:
		return nil
	case cur == nil:
		return []Event{{Type: EventDeleted, Link: *prev}}
	}
	var evs []Event
	if prev == nil {
		evs = append(evs, Event{Type: EventCreated, Link: *cur})
		if cur.Up() {
			evs = append(evs, Event{Type: EventUp, Link: *cur})
		}
		if relay && relaySet(cur.AMT.Remote) {
			evs = append(evs, Event{Type: EventRelayDiscovered, Link: *cur, Remote: cur.AMT.Remote})
		}
		return evs
	}
	if prev.Up() != cur.Up() {
		t := EventDown
		if cur.Up() {
			t = EventUp
		}
		evs = append(evs, Event{Type: t, Link: *cur})
	}
	if relay {
		was, is := prev.AMT.Remote, cur.AMT.Remote
		switch {
		case !relaySet(was) && relaySet(is):
			evs = append(evs, Event{Type: EventRelayDiscovered, Link: *cur, Remote: is})
		case relaySet(was) && relaySet(is) && was != is:
			evs = append(evs, Event{Type: EventRelayChanged, Link: *cur, Remote: is, Previous: was})
		case relaySet(was) && !relaySet(is):
			evs = append(evs, Event{Type: EventRelayLost, Link: *cur, Previous: was})
		}
	}
	return evs
}
