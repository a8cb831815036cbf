package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/amtctl/amtctl/internal/sdnotify"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/spf13/cobra"
)

// DefaultResync is how often apply --watch converges every namespace
// whatever the notifications said.
const DefaultResync = 30 * time.Second

// minResync is the shortest --resync accepted: a resync is one dump per
// namespace, and notifications do the rest.
const minResync = time.Second

const applyWatchLong = `

With --watch apply converges, then stays and keeps converging: on the
kernel's notifications (amt links, their lower devices and masters
appearing, disappearing, going up or down; addresses added or removed),
so a link deleted or changed by hand, or one whose lower device was
re-created, is put back within moments; and every --resync (default 30s),
which also opens the namespaces of the file that did not exist yet
(ip netns add). When the kernel drops notifications (a receive-buffer
overrun, e.g. a device with thousands of VLANs deleted) the namespace is
converged at once and a "resynced" line says so. Each action is one line
on stdout, as it is made: created, replaced, set, deleted, failed (with the
kernel's reason, once until it changes), resynced, reloaded; JSON lines
with -j. SIGHUP reads FILE again: an invalid file is refused, one line per
problem, and the links it had are kept. SIGTERM and SIGINT end apply with
exit status 0 and leave the links in place.

A link whose discovery is driad:SOURCE is looked up again when its
answer's TTL runs out (at least 1s after the last lookup, at most 1h), and
the gateway is re-created when the relay changed (the kernel cannot change
it in place): one "replaced" line naming the old and the new relay. A
failed lookup keeps the link as it is, logs one line (once until it
changes) and is tried again 5s later.

Under systemd (Type=notify, $NOTIFY_SOCKET) apply --watch says READY=1
once the first convergence is done, RELOADING=1 and READY=1 around a
SIGHUP, STOPPING=1 at the end, with a STATUS= line; with WatchdogSec= it
sends WATCHDOG=1 from its loop every half period.`

// applyWatch is the state of apply --watch.
type applyWatch struct {
	o      *options
	c      *cobra.Command
	file   string
	prune  bool
	resync time.Duration
	ctx    context.Context

	d      *desired
	notes  chan nsNote
	subs   map[*nsState]*subscription
	failed map[string]string // last failure line per "netns/link", logged once
	log    watchLog
	sd     *sdnotify.Notifier // nil outside systemd
	sdErr  string             // the last notification error, said once
}

// subscription is one namespace's running Backend.Subscribe.
type subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// nsNote is what a subscription sends the loop: a notification, or its end.
type nsNote struct {
	ns    *nsState
	n     amtlink.Notification
	ended bool
	err   error
}

// runApplyWatch is apply --watch: see applyWatchLong.
func (o *options) runApplyWatch(c *cobra.Command, file string, prune bool, resync time.Duration) error {
	// Signals first: from here on they are handled, not fatal.
	sigs := o.watchSignals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	d, err := o.loadApply(c, file, true)
	if err != nil {
		return err
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	sd, err := sdnotify.FromEnv(getenv)
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "amtctl: warning: %v; systemd is not notified\n", err)
	}
	ctx, cancel := context.WithCancel(c.Context())
	w := &applyWatch{
		o: o, c: c, file: file, prune: prune, resync: resync, ctx: ctx, d: d,
		notes:  make(chan nsNote, 256),
		subs:   map[*nsState]*subscription{},
		failed: map[string]string{},
		log:    watchLog{w: c.OutOrStdout(), json: o.json, now: time.Now},
		sd:     sd,
	}
	defer func() {
		cancel()
		w.unsubscribeAll()
		w.d.close()
	}()
	// Subscribed before the first convergence, so that no change falls
	// between the two.
	for _, ns := range d.spaces {
		if ns.b == nil {
			w.waiting(ns)
			continue
		}
		if err := w.subscribe(ns); err != nil {
			return runErr(fmt.Errorf("apply --watch: subscribe to notifications%s: %w", nsSuffix(ns.name), err))
		}
	}
	for _, ns := range d.spaces {
		w.converge(ns)
	}
	tick := o.watchTick
	if tick == nil {
		t := time.NewTicker(resync)
		defer t.Stop()
		tick = t.C
	}
	fmt.Fprintf(c.ErrOrStderr(), "amtctl: watching %d link(s) of %s in %d namespace(s), resync every %s; reload with SIGHUP, stop with SIGTERM or Ctrl-C\n",
		d.links, d.display, len(d.spaces), resync)
	w.notify(w.sd.Ready(w.status()))
	var watchdog <-chan time.Time
	if iv := w.sd.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		watchdog = t.C
	}
	if o.watchReady != nil {
		o.watchReady()
	}
	for {
		if o.watchIdle != nil {
			o.watchIdle()
		}
		// The next DNS lookup of a driad: discovery, if any is due.
		// An unstopped timer is collected once unreferenced (Go 1.23
		// timers, this module's go line), so each turn may drop its own.
		var lookup <-chan time.Time
		if next, ok := w.d.nextLookup(); ok {
			lookup = time.NewTimer(max(time.Until(next), 0)).C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-lookup:
			w.lookupsDue()
		case s := <-sigs:
			if s == syscall.SIGHUP {
				w.notify(w.sd.Reloading())
				w.reload()
				w.notify(w.sd.Ready(w.status()))
				continue
			}
			w.notify(w.sd.Stopping())
			return nil // SIGINT, SIGTERM: the links stay
		case <-watchdog:
			w.notify(w.sd.Watchdog())
		case <-tick:
			w.resyncAll()
		case nt := <-w.notes:
			w.notified(nt)
		}
	}
}

// status is the STATUS= line systemd shows for apply --watch.
func (w *applyWatch) status() string {
	return fmt.Sprintf("watching %d link(s) of %s in %d namespace(s)", w.d.links, w.d.display, len(w.d.spaces))
}

// notify reports a failed notification to systemd on stderr, once until it
// changes: the service manager is the one who would have heard.
func (w *applyWatch) notify(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != "" && msg != w.sdErr {
		fmt.Fprintf(w.c.ErrOrStderr(), "amtctl: warning: %s\n", msg)
	}
	w.sdErr = msg
}

// subscribe starts ns's subscription and returns once it is in place, or
// with its error when it could not start.
func (w *applyWatch) subscribe(ns *nsState) error {
	ctx, cancel := context.WithCancel(w.ctx)
	s := &subscription{cancel: cancel, done: make(chan struct{})}
	ready := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		defer close(s.done)
		err := ns.b.Subscribe(ctx, amtlink.SubscribeOptions{Ready: func() { close(ready) }}, func(n amtlink.Notification) error {
			select {
			case w.notes <- nsNote{ns: ns, n: n}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		select {
		case <-ready:
		default:
			failed <- err
			return
		}
		if ctx.Err() == nil {
			select {
			case w.notes <- nsNote{ns: ns, ended: true, err: err}:
			case <-ctx.Done():
			}
		}
	}()
	select {
	case <-ready:
		w.subs[ns] = s
		return nil
	case err := <-failed:
		cancel()
		if err == nil {
			err = fmt.Errorf("the subscription ended before it started")
		}
		return err
	}
}

func (w *applyWatch) unsubscribeAll() {
	for ns, s := range w.subs {
		s.cancel()
		<-s.done
		delete(w.subs, ns)
	}
}

// notified handles nt and every note queued behind it, then converges each
// namespace they concern once: a burst of notifications costs one listing.
func (w *applyWatch) notified(nt nsNote) {
	dirty := map[*nsState]bool{}
	resynced := map[*nsState]bool{}
	w.note(nt, dirty, resynced)
	for more := true; more; {
		select {
		case nt := <-w.notes:
			w.note(nt, dirty, resynced)
		default:
			more = false
		}
	}
	for _, ns := range w.d.spaces {
		if resynced[ns] {
			w.log.event("resynced", ns, "", "resynced"+nsSuffix(ns.shown)+": the kernel dropped notifications (receive buffer overrun); links listed again", "")
		}
		if dirty[ns] {
			w.converge(ns)
		}
	}
}

// note records what nt means for its namespace.
func (w *applyWatch) note(nt nsNote, dirty, resynced map[*nsState]bool) {
	ns := nt.ns
	if w.d.byName[ns.name] != ns {
		return // from before a reload
	}
	if nt.ended {
		delete(w.subs, ns)
		line := fmt.Sprintf("failed watch%s: %s; subscribing again at the next resync", nsSuffix(ns.shown), oneLine(failure{op: "notifications", netns: ns.name}.error(nt.err)))
		w.log.event("failed", ns, "", line, oneLine(nt.err))
		return
	}
	switch n := nt.n; n.Type {
	case amtlink.NotifyResync:
		resynced[ns], dirty[ns] = true, true
	case amtlink.NotifyAddr, amtlink.NotifyAddrDeleted:
		dirty[ns] = true
	case amtlink.NotifyLink, amtlink.NotifyLinkDeleted:
		if n.Device.Kind == amtlink.Kind || ns.names()[n.Device.Name] {
			dirty[ns] = true
		}
	}
}

// names are the device names ns's links use: theirs, their lower devices
// and masters. A link notification for another device is not ours.
func (ns *nsState) names() map[string]bool {
	if ns.used == nil {
		ns.used = map[string]bool{}
		for _, l := range ns.links {
			ns.used[l.spec.Name] = true
			ns.used[l.spec.Dev] = true
			if l.spec.Master != "" {
				ns.used[l.spec.Master] = true
			}
		}
	}
	return ns.used
}

// resyncAll converges every namespace, first opening (and subscribing to)
// those not there before.
func (w *applyWatch) resyncAll() {
	for _, ns := range w.d.spaces {
		if ns.b == nil {
			b, err := w.o.open(ns.name)
			if err != nil {
				continue // still waited for; said once
			}
			ns.b = b
		}
		if w.subs[ns] == nil {
			if err := w.subscribe(ns); err != nil {
				w.log.event("failed", ns, "", "failed watch"+nsSuffix(ns.shown)+": "+oneLine(err)+"; trying again at the next resync", oneLine(err))
				continue
			}
		}
		w.converge(ns)
	}
}

// lookupsDue converges each namespace that has a link due for a DNS
// lookup; converge makes the lookups.
func (w *applyWatch) lookupsDue() {
	now := time.Now()
	for _, ns := range w.d.spaces {
		for _, l := range ns.links {
			if o, ok := discoveryOrigin(&l.spec); ok && o.source.IsValid() && !now.Before(l.relookup) {
				w.converge(ns)
				break
			}
		}
	}
}

// converge makes ns match the file: the DNS lookups that are due, one
// listing, then the plan's changes, each logged as made. A failure is
// logged once, until it changes or the link converges.
func (w *applyWatch) converge(ns *nsState) {
	if ns.b == nil {
		return
	}
	for _, l := range ns.links {
		k := failKey(ns, l.spec.Name) + "\x00lookup"
		asked, msg := w.o.lookupDue(ns, l, time.Now())
		switch {
		case msg != "" && w.failed[k] != msg:
			w.failed[k] = msg
			w.log.event("failed", ns, l.spec.Name, "failed "+msg, msg)
		case asked && msg == "":
			delete(w.failed, k)
		}
	}
	have, err := ns.b.List()
	if err != nil {
		w.fail(ns, "", oneLine(failure{op: "list", netns: ns.name, shown: ns.shown}.error(err)))
		return
	}
	w.clear(ns, "")
	plan := planNS(ns, have, w.prune)
	failing := map[string]bool{}
	for _, a := range plan {
		if err := a.do(ns.b); err != nil {
			failing[a.name] = true
			w.fail(ns, a.name, oneLine(err))
			continue
		}
		w.clear(ns, a.name)
		w.log.event(actionVerbs[a.kind].done, ns, a.name, a.doneString(), "")
	}
	for _, l := range ns.links {
		if !failing[l.spec.Name] {
			w.clear(ns, l.spec.Name)
		}
	}
}

func failKey(ns *nsState, name string) string { return ns.name + "\x00" + name }

// fail logs msg for the link name of ns unless it was the last thing
// logged for it.
func (w *applyWatch) fail(ns *nsState, name, msg string) {
	k := failKey(ns, name)
	if w.failed[k] == msg {
		return
	}
	w.failed[k] = msg
	w.log.event("failed", ns, name, "failed "+msg, msg)
}

func (w *applyWatch) clear(ns *nsState, name string) { delete(w.failed, failKey(ns, name)) }

// waiting logs that ns does not exist yet.
func (w *applyWatch) waiting(ns *nsState) {
	w.log.event("waiting", ns, "", fmt.Sprintf("waiting for netns %s: not found (ip netns add %s?); looked for at every resync", ns.name, ns.name), "")
}

// reload reads the file again. An invalid file is refused, its problems
// printed, and the links already desired stay so; a valid one replaces
// them, with namespaces and subscriptions opened afresh.
func (w *applyWatch) reload() {
	d, err := w.o.loadApply(w.c, w.file, true)
	if err != nil {
		line := fmt.Sprintf("reload refused: %s; keeping the %d link(s) of the previous file", oneLine(err), w.d.links)
		w.log.event("reload-refused", nil, "", line, oneLine(err))
		return
	}
	w.unsubscribeAll()
	w.d.close()
	w.d = d
	w.failed = map[string]string{}
	w.log.event("reloaded", nil, "", fmt.Sprintf("reloaded %s: %d link(s) in %d namespace(s)", d.display, d.links, len(d.spaces)), "")
	for _, ns := range d.spaces {
		if ns.b == nil {
			w.waiting(ns)
			continue
		}
		if err := w.subscribe(ns); err != nil {
			w.log.event("failed", ns, "", "failed watch"+nsSuffix(ns.shown)+": "+oneLine(err)+"; trying again at the next resync", oneLine(err))
		}
	}
	for _, ns := range d.spaces {
		w.converge(ns)
	}
}

// watchLog writes apply --watch's lines: text, or JSON lines with -j.
type watchLog struct {
	w    io.Writer
	json bool
	now  func() time.Time
}

// watchLogJSON is one line of apply --watch -j.
type watchLogJSON struct {
	Time   string `json:"time"`
	Action string `json:"action"` // created, replaced, set, deleted, failed, resynced, waiting, reloaded, reload-refused
	Netns  string `json:"netns,omitempty"`
	Ifname string `json:"ifname,omitempty"`
	Msg    string `json:"msg"`             // the text line
	Error  string `json:"error,omitempty"` // failed, reload-refused: the reason
}

// event logs one action; ns may be nil for the file as a whole.
func (l watchLog) event(action string, ns *nsState, name, text, reason string) {
	if !l.json {
		fmt.Fprintln(l.w, text)
		return
	}
	j := watchLogJSON{Time: l.now().UTC().Format(time.RFC3339Nano), Action: action, Ifname: name, Msg: text, Error: reason}
	if ns != nil {
		j.Netns = ns.name
	}
	b, _ := json.Marshal(j) // strings only: cannot fail
	l.w.Write(append(b, '\n'))
}
