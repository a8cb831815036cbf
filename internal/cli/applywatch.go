package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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

// netnsRetry is how often apply --watch tries again to open a namespace
// whose name has just appeared, for at most netnsSettle: ip netns add
// creates /run/netns/NAME, an empty file, before it bind-mounts the
// namespace onto it, and the file is no namespace until then.
const (
	netnsRetry  = 20 * time.Millisecond
	netnsSettle = 5 * time.Second
)

// defaultNetnsDir is where ip netns add puts named namespaces.
const defaultNetnsDir = "/run/netns"

const applyWatchLong = `

With --watch apply converges, then stays and keeps converging: on the
kernel's notifications (amt links, their lower devices and masters
appearing, disappearing, going up or down; addresses added or removed),
so a link deleted or changed by hand, or one whose lower device was
re-created, is put back within moments; and every --resync (default 30s).
A namespace the file names that does not exist yet is opened as soon as
ip netns add makes it (apply watches /run/netns; a path such as
/proc/PID/ns/net is looked for at each resync), and one deleted (ip netns
del) is let go of, said once, and its links put back when it is added
again. When the kernel drops notifications (a receive-buffer
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
	// nsDir watches /run/netns once the file names a namespace there;
	// nil before, or when it could not (resyncs still look).
	nsDir *netnsDir
	// pending are the namespaces whose name appeared but that could not
	// be opened yet, each until when it is tried again.
	pending map[*nsState]time.Time
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
		notes:   make(chan nsNote, 256),
		subs:    map[*nsState]*subscription{},
		failed:  map[string]string{},
		log:     watchLog{w: c.OutOrStdout(), json: o.json, now: time.Now},
		sd:      sd,
		pending: map[*nsState]time.Time{},
	}
	defer func() {
		cancel()
		if w.nsDir != nil {
			w.nsDir.close()
		}
		w.unsubscribeAll()
		w.d.close()
	}()
	// Watched before the namespaces are looked at, so that none added
	// in between is missed.
	w.watchNetns()
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
		var nsNames <-chan string
		if w.nsDir != nil {
			nsNames = w.nsDir.names
		}
		var retry <-chan time.Time
		if len(w.pending) > 0 {
			retry = time.NewTimer(netnsRetry).C
		}
		// A signal first: select picks at random among what is ready,
		// and a watchdog ping to a manager that stopped reading waits
		// up to 2 s, so SIGTERM could lose to tick after tick.
		select {
		case s := <-sigs:
			if w.signalled(s) {
				return nil
			}
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-lookup:
			w.lookupsDue()
		case name, ok := <-nsNames:
			if !ok {
				w.nsDir = nil // resyncs still look
				continue
			}
			w.netnsChanged(name)
		case <-retry:
			w.retryPending()
		case s := <-sigs:
			if w.signalled(s) {
				return nil
			}
		case <-watchdog:
			w.notify(w.sd.Watchdog())
		case <-tick:
			w.resyncAll()
		case nt := <-w.notes:
			w.notified(nt)
		}
	}
}

// signalled handles s: SIGHUP re-reads the file; SIGINT and SIGTERM end
// the watch (true), leaving the links.
func (w *applyWatch) signalled(s os.Signal) bool {
	if s == syscall.SIGHUP {
		w.notify(w.sd.Reloading())
		w.reload()
		w.notify(w.sd.Ready(w.status()))
		return false
	}
	w.notify(w.sd.Stopping())
	return true
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

// subscribeOrSay subscribes to ns's notifications, or logs why it could
// not (the resyncs try again) and returns false.
func (w *applyWatch) subscribeOrSay(ns *nsState) bool {
	if err := w.subscribe(ns); err != nil {
		w.log.event("failed", ns, "", "failed watch"+nsSuffix(ns.shown)+": "+oneLine(err)+"; trying again at the next resync", oneLine(err))
		return false
	}
	return true
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

// resyncAll converges every namespace, first letting go of those gone and
// opening (and subscribing to) those not there before.
func (w *applyWatch) resyncAll() {
	for _, ns := range w.d.spaces {
		if ns.b != nil && ns.b.NetNSGone() {
			w.lost(ns)
		}
		if ns.b == nil {
			b, err := w.o.open(ns.name)
			if err != nil {
				continue // still waited for; said once
			}
			ns.b = b
		}
		if w.subs[ns] == nil && !w.subscribeOrSay(ns) {
			continue
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
	w.log.event("waiting", ns, "", fmt.Sprintf("waiting for netns %s: not found (ip netns add %s?); %s", ns.name, ns.name, w.lookedFor(ns)), "")
}

// lookedFor says when apply looks for ns again.
func (w *applyWatch) lookedFor(ns *nsState) string {
	if w.nsDir != nil && isNetnsName(ns.name) {
		return "opened as soon as it is added"
	}
	return "looked for at every resync"
}

// isNetnsName reports whether netns is a name in /run/netns, not "" (the
// current namespace) or a path.
func isNetnsName(netns string) bool { return netns != "" && !strings.HasPrefix(netns, "/") }

// watchNetns starts watching the directory of named namespaces, once the
// file names one; a failure is said on stderr, and resyncs still look.
func (w *applyWatch) watchNetns() {
	if w.nsDir != nil {
		return
	}
	named := false
	for _, ns := range w.d.spaces {
		named = named || isNetnsName(ns.name)
	}
	if !named {
		return
	}
	dir := w.o.netnsDir
	if dir == "" {
		dir = defaultNetnsDir
	}
	d, err := watchNetnsDir(dir)
	if err != nil {
		fmt.Fprintf(w.c.ErrOrStderr(), "amtctl: warning: watch %s: %v; namespaces added or deleted are seen at the next resync\n", dir, err)
		return
	}
	w.nsDir = d
}

// netnsChanged handles an entry of /run/netns created or deleted (name),
// or any ("") : a namespace of the file that is gone is let go of, and one
// not open is opened, or tried again shortly.
func (w *applyWatch) netnsChanged(name string) {
	for _, ns := range w.d.spaces {
		if !isNetnsName(ns.name) || name != "" && ns.name != name {
			continue
		}
		if ns.b != nil && ns.b.NetNSGone() {
			w.lost(ns)
		}
		if ns.b == nil {
			if err := w.opened(ns); err != nil && !errors.Is(err, os.ErrNotExist) {
				w.pending[ns] = time.Now().Add(netnsSettle) // not a namespace yet
			}
		}
	}
}

// retryPending tries again to open the namespaces whose name appeared,
// until each opens or its time is up (then the resyncs look for it).
func (w *applyWatch) retryPending() {
	now := time.Now()
	for ns, until := range w.pending {
		if w.d.byName[ns.name] != ns || ns.b != nil || w.opened(ns) == nil || now.After(until) {
			delete(w.pending, ns)
		}
	}
}

// opened opens ns, which was not, subscribes to it and converges it; or
// returns why ns could not be opened (not there, or not a namespace yet).
func (w *applyWatch) opened(ns *nsState) error {
	b, err := w.o.open(ns.name)
	if err != nil {
		return err
	}
	ns.b = b
	delete(w.pending, ns)
	w.subscribeOrSay(ns)
	w.converge(ns)
	return nil
}

// lost lets go of ns, whose name no longer leads to the namespace it had
// open (ip netns del; the process of /proc/PID/ns/net ended), so that the
// kernel can free it; ns is waited for again.
func (w *applyWatch) lost(ns *nsState) {
	if s := w.subs[ns]; s != nil {
		s.cancel()
		<-s.done
		delete(w.subs, ns)
	}
	ns.b.Close()
	ns.b = nil
	for k := range w.failed {
		if strings.HasPrefix(k, failKey(ns, "")) {
			delete(w.failed, k)
		}
	}
	w.log.event("waiting", ns, "", fmt.Sprintf("lost netns %s: it is gone (ip netns del?); its links are put back when it is there again, %s", ns.name, w.lookedFor(ns)), "")
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
	w.pending = map[*nsState]time.Time{}
	w.watchNetns()
	w.log.event("reloaded", nil, "", fmt.Sprintf("reloaded %s: %d link(s) in %d namespace(s)", d.display, d.links, len(d.spaces)), "")
	for _, ns := range d.spaces {
		if ns.b == nil {
			w.waiting(ns)
			continue
		}
		w.subscribeOrSay(ns)
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
