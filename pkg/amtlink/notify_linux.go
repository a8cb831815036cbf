//go:build linux

package amtlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// This file owns the notification sockets: Watch and Subscribe read the
// kernel's multicast notifications here, each on a socket of its own, and
// turn them into Notifications (eachNotification). Requests never come
// here; they go through exchange (conn_linux.go).

// watchReadBuffer is the receive buffer asked for on a notification
// socket, so that bursts (many links created at once) do not overrun it.
// The kernel caps it at net.core.rmem_max; an overrun is handled anyway
// (NotifyResync).
const watchReadBuffer = 1 << 20

// groupsOf is the netlink.Config.Groups mask of the RTNLGRP_* groups.
func groupsOf(groups ...uint32) uint32 {
	var m uint32
	for _, g := range groups {
		m |= 1 << (g - 1)
	}
	return m
}

// Watch needs link notifications only; Subscribe addresses too.
var (
	watchGroups     = groupsOf(unix.RTNLGRP_LINK)
	subscribeGroups = groupsOf(unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
)

// subscribeTo is c.subscribe (a test's fake source) or c.notifications.
func (c *client) subscribeTo(ctx context.Context, op string, groups uint32) (<-chan received, func(), error) {
	if c.subscribe != nil {
		return c.subscribe(ctx, groups)
	}
	return c.notifications(ctx, op, groups)
}

func (c *client) Subscribe(ctx context.Context, opt SubscribeOptions, fn func(Notification) error) error {
	if fn == nil {
		return &Error{Op: "subscribe", Err: errors.New("amtlink: Subscribe needs a function to call with each notification")}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, stop, err := c.subscribeTo(ctx, "subscribe", subscribeGroups)
	if err != nil {
		return err
	}
	err = subscribeLoop(ctx, opt, ch, fn)
	// Stop the reader and wait for it, so nothing outlives Subscribe.
	cancel()
	stop()
	return err
}

// subscribeLoop runs Subscribe on what arrives on ch.
func subscribeLoop(ctx context.Context, opt SubscribeOptions, ch <-chan received, fn func(Notification) error) error {
	if opt.Ready != nil {
		opt.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r, ok := <-ch:
			if !ok {
				return socketClosed(ctx, "subscribe")
			}
			if err := eachNotification(ctx, "subscribe", r, fn); err != nil {
				return err
			}
		}
	}
}

// socketClosed is what a loop returns for op when its notification reader
// stopped: nil when ctx is done (that stopped it), else an *Error.
func socketClosed(ctx context.Context, op string) error {
	if ctx.Err() != nil {
		return nil
	}
	return &Error{Op: op, Err: errors.New("amtlink: notification socket closed")}
}

// eachNotification calls fn with each notification of one receive r, in
// order: NotifyResync for an overrun (ENOBUFS), link and address changes
// for their messages; other messages are skipped. A receive error other
// than ENOBUFS is returned as an *Error for op, unless ctx is done (the
// error is then the wake-up of a closing socket, and nil is returned).
// fn's errors are returned as they are.
func eachNotification(ctx context.Context, op string, r received, fn func(Notification) error) error {
	if r.err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(r.err, unix.ENOBUFS) {
			return fn(Notification{Type: NotifyResync})
		}
		return kernelError(op, "", r.err)
	}
	for _, m := range r.msgs {
		var n Notification
		switch m.Header.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			d, err := decodeDevice(m.Data)
			if err != nil {
				return &Error{Op: op, Err: err}
			}
			n = Notification{Type: NotifyLink, Device: d, msg: m.Data}
			if m.Header.Type == unix.RTM_DELLINK {
				n.Type = NotifyLinkDeleted
			}
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			idx, p, err := decodeAddr(m.Data)
			if err != nil {
				return &Error{Op: op, Err: err}
			}
			n = Notification{Type: NotifyAddr, Device: Device{Index: idx}, Addr: p}
			if m.Header.Type == unix.RTM_DELADDR {
				n.Type = NotifyAddrDeleted
			}
		default:
			continue
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// notifications subscribes to the multicast groups (a bit mask of
// RTNLGRP_* numbers, see groupsOf) of the client's namespace on a socket
// of their own, read until ctx is done; op names the operation in errors.
// stop closes the socket and waits for its reader.
func (c *client) notifications(ctx context.Context, op string, groups uint32) (<-chan received, func(), error) {
	dial := func() (*netlink.Conn, error) { return c.dialNotifications(op, groups) }
	mc, err := dial()
	if err != nil {
		return nil, nil, err
	}
	r := &reader{mc: mc, dial: dial}
	ch := r.run(ctx)
	return ch, func() {
		r.close()
		for range ch {
		}
	}, nil
}

// dialNotifications opens a second rtnetlink socket in the namespace of the
// client's socket, subscribed to groups.
func (c *client) dialNotifications(op string, groups uint32) (*netlink.Conn, error) {
	nsfd, err := c.socketNetNS()
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	cfg := &netlink.Config{Groups: groups}
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

// reader reads a notification socket until it fails for good or its
// context is done, and then closes its channel.
//
// On an overrun (ENOBUFS: the kernel dropped notifications) it replaces
// the socket with a new one before it passes the overrun on. The old one is
// no use: what is still queued on it is stale, and the kernel delivers
// nothing more to it until that queue has been read empty
// (NETLINK_S_CONGESTED), so a change made while the receiver resyncs would
// be lost, and reported only as one more overrun, later. The new socket is
// subscribed before the overrun is reported, so the receiver's listing
// sees everything the new socket misses.
type reader struct {
	dial func() (*netlink.Conn, error)
	mu   sync.Mutex
	mc   *netlink.Conn
	done bool
}

func (r *reader) conn() *netlink.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mc
}

// close closes the current socket, which ends a pending Receive.
func (r *reader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	r.mc.Close()
}

// redial replaces the socket after an overrun.
func (r *reader) redial() error {
	mc, err := r.dial()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		mc.Close()
		return net.ErrClosed
	}
	_ = r.mc.Close()
	r.mc = mc
	return nil
}

// run starts the reading goroutine. When ctx is done a read deadline in
// the past wakes a pending Receive.
func (r *reader) run(ctx context.Context) <-chan received {
	ch := make(chan received)
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		_ = r.mc.SetReadDeadline(time.Now())
	})
	go func() {
		defer close(ch)
		defer stop()
		for ctx.Err() == nil { // a socket redialled after the wake-up has no deadline
			msgs, err := r.conn().Receive()
			if errors.Is(err, unix.ENOBUFS) {
				if derr := r.redial(); derr != nil {
					err = derr
				}
			}
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
