//go:build linux

package amtlink

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// watchReadBuffer is the receive buffer asked for on the notification
// socket, so that bursts (many links created at once) do not overrun it.
const watchReadBuffer = 1 << 20

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
	subscribe := c.subscribe
	if subscribe == nil {
		subscribe = c.notifications
	}
	ch, stop, err := subscribe(ctx)
	if err != nil {
		return err
	}
	err = c.watchLoop(ctx, opt, ch, fn)
	// Stop the reader and wait for it, so nothing outlives Watch.
	cancel()
	stop()
	return err
}

// notifications subscribes to the link notifications of the client's
// namespace on a socket of their own, read until ctx is done. stop closes
// the socket and waits for its reader.
func (c *client) notifications(ctx context.Context) (<-chan received, func(), error) {
	mc, err := c.dialNotifications()
	if err != nil {
		return nil, nil, err
	}
	ch := receiveAll(ctx, mc)
	return ch, func() {
		mc.Close()
		for range ch {
		}
	}, nil
}

// dialNotifications opens a second rtnetlink socket in the namespace of the
// client's socket, subscribed to RTNLGRP_LINK.
func (c *client) dialNotifications() (*netlink.Conn, error) {
	const op = "watch"
	nsfd, err := c.socketNetNS()
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	cfg := &netlink.Config{Groups: 1 << (unix.RTNLGRP_LINK - 1)}
	if nsfd >= 0 {
		defer unix.Close(nsfd)
		cfg.NetNS = nsfd
	}
	mc, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
	if err != nil {
		return nil, kernelError(op, "", err)
	}
	_ = mc.SetReadBuffer(watchReadBuffer) // best effort; ENOBUFS is handled
	return mc, nil
}

// soNetnsCookie is SO_NETNS_COOKIE (Linux 5.14+) as asm-generic numbers it,
// which x/sys/unix does not define yet.
const soNetnsCookie = 71

// socketNetNS returns -1 when the client's socket lives in the caller's
// current namespace (the notification socket is then opened right here,
// which needs no privilege), else a new descriptor of the socket's namespace
// (SIOCGSKNS, which needs CAP_NET_ADMIN there; entering it to open the
// notification socket needs CAP_SYS_ADMIN, as Dial did).
//
// The two namespaces are compared by their cookies (SO_NETNS_COOKIE, Linux
// 5.14+); on older kernels SIOCGSKNS is always used.
func (c *client) socketNetNS() (int, error) {
	if c.conn == nil {
		return -1, errors.New("amtlink: the client has no socket of its own to watch from")
	}
	rc, err := c.conn.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("amtlink: the client's socket: %w", err)
	}
	nsfd, ioErr := -1, error(nil)
	var cookie uint64
	var cookieErr error
	own, ownErr := currentNetNSCookie()
	if err := rc.Control(func(fd uintptr) {
		cookie, cookieErr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, soNetnsCookie)
		if ownErr == nil && cookieErr == nil && cookie == own {
			return
		}
		nsfd, ioErr = unix.IoctlRetInt(int(fd), unix.SIOCGSKNS)
	}); err != nil {
		return -1, fmt.Errorf("amtlink: the client's socket: %w", err)
	}
	switch {
	case ownErr == nil && cookieErr == nil && cookie == own:
		return -1, nil
	case ioErr == nil:
		return nsfd, nil
	case errors.Is(ioErr, unix.EPERM):
		return -1, fmt.Errorf("amtlink: watching another network namespace needs CAP_NET_ADMIN there: %w", ioErr)
	}
	return -1, fmt.Errorf("amtlink: finding the client's network namespace (SIOCGSKNS): %w", ioErr)
}

// currentNetNSCookie returns the namespace cookie of a throwaway socket in
// the calling thread's namespace, which in a program that never switches
// namespaces itself is the process's.
func currentNetNSCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, soNetnsCookie)
}

// received is one Receive of the notification socket.
type received struct {
	msgs []netlink.Message
	err  error
}

// receiveAll reads mc until it fails for good or ctx is done, and then
// closes the channel. When ctx is done a read deadline in the past wakes a
// pending Receive.
func receiveAll(ctx context.Context, mc *netlink.Conn) <-chan received {
	ch := make(chan received)
	var once sync.Once
	stop := context.AfterFunc(ctx, func() {
		// Wake a pending Receive; Watch closes mc afterwards anyway.
		once.Do(func() { _ = mc.SetReadDeadline(time.Now()) })
	})
	go func() {
		defer close(ch)
		defer stop()
		for {
			msgs, err := mc.Receive()
			select {
			case ch <- received{msgs: msgs, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				return
			}
		}
	}()
	return ch
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
	// retry fires when a resync has to be tried again.
	var retry <-chan time.Time
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
		case <-retry:
			retry = nil
			if err := w.resyncOrRetry(&retry); err != nil {
				return err
			}
		case r, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return &Error{Op: "watch", Err: errors.New("amtlink: notification socket closed")}
			}
			if r.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(r.err, unix.ENOBUFS) {
					// The kernel dropped notifications: list again
					// and report what changed meanwhile.
					if err := w.resyncOrRetry(&retry); err != nil {
						return err
					}
					continue
				}
				return kernelError("watch", "", r.err)
			}
			if err := w.handle(r.msgs); err != nil {
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

// handle processes one batch of notifications.
func (w *watcher) handle(msgs []netlink.Message) error {
	n := &names{c: w.c, op: "watch"}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.RTM_NEWLINK:
			if !isAMTMessage(m.Data) {
				continue
			}
			r, err := decodeLink(m.Data)
			if err != nil {
				return &Error{Op: "watch", Err: err}
			}
			cur, err := r.link(n)
			if err != nil {
				return err
			}
			prev := w.known[cur.Index]
			// The relay a notification carries is trusted only when
			// the link is new or went up or down: the kernel builds the
			// message right after ndo_open/ndo_stop (and ndo_stop
			// clears a gateway's relay), so then it matches the flags.
			// Otherwise it may be older than the last poll's, and
			// relay changes are left to the polls.
			relay := prev == nil || prev.Up() != cur.Up()
			if !relay {
				cur.AMT.Remote = prev.AMT.Remote
			}
			w.known[cur.Index] = &cur
			if err := w.emit(transitions(prev, &cur, relay)); err != nil {
				return err
			}
		case unix.RTM_DELLINK:
			if len(m.Data) < unix.SizeofIfInfomsg {
				return &Error{Op: "watch", Err: fmt.Errorf("amtlink: decoding link message: %d bytes, shorter than ifinfomsg", len(m.Data))}
			}
			idx := binary.NativeEndian.Uint32(m.Data[4:8])
			prev := w.known[idx]
			if prev == nil {
				continue // not an amt link
			}
			delete(w.known, idx)
			if err := w.emit(transitions(prev, nil, false)); err != nil {
				return err
			}
		}
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
// overran the notification socket), it sets *retry to try again a poll
// interval later instead of ending the watch.
func (w *watcher) resyncOrRetry(retry *<-chan time.Time) error {
	err := w.resync(true)
	if errors.Is(err, ErrDumpInterrupted) {
		*retry = time.After(w.interval)
		return nil
	}
	return err
}

// resync lists the AMT links and, when report is set, reports every
// difference from what the watcher knew.
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
	return w.emit(evs)
}

// relaySet reports whether a is a discovered relay: the kernel reports
// 0.0.0.0, or nothing, while a gateway is still discovering.
func relaySet(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

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
