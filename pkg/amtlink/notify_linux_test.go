//go:build linux

package amtlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// addrNotification is the kernel's RTM_NEWADDR or RTM_DELADDR for p on the
// device index.
func addrNotification(typ netlink.HeaderType, index uint32, p netip.Prefix) netlink.Message {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	if p.Addr().Is6() {
		b[0] = unix.AF_INET6
	}
	b[1] = byte(p.Bits())
	binary.NativeEndian.PutUint32(b[4:], index)
	b = nlwire.AppendAttr(b, unix.IFA_ADDRESS, p.Addr().AsSlice())
	return netlink.Message{Header: netlink.Header{Type: typ}, Data: b}
}

func enobufs() received {
	return received{err: &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}}
}

// TestSubscribe drives Subscribe through the fake kernel: links of every
// kind, addresses, an overrun (which must not end it), then the callback's
// error ends it. Every step is queued before Subscribe runs: no timing.
func TestSubscribe(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := &Client{c: k.client()}
	c.c.subscribe = k.subscribe
	vlan := fakeLink{index: 40, name: "vlan40", kind: "vlan", flags: unix.IFF_UP, mtu: 1500}
	var got []string
	ready := false
	err := c.Subscribe(context.Background(), SubscribeOptions{Ready: func() {
		ready = true
		// Queued as the kernel would queue them.
		k.notify <- notification(t, unix.RTM_NEWLINK, vlan)
		k.notify <- received{msgs: []netlink.Message{
			addrNotification(unix.RTM_NEWADDR, 40, netip.MustParsePrefix("192.0.2.7/24")),
			addrNotification(unix.RTM_DELADDR, 40, netip.MustParsePrefix("2001:db8::7/64")),
		}}
		k.notify <- enobufs()
		k.notify <- notification(t, unix.RTM_DELLINK, vlan)
		k.notify <- notification(t, unix.RTM_NEWLINK, amtLink(41, "amtr", 2))
	}}, func(n Notification) error {
		if !ready {
			t.Errorf("notification %s before Ready", n.Type)
		}
		got = append(got, fmt.Sprintf("%s %d %q %q %s", n.Type, n.Device.Index, n.Device.Name, n.Device.Kind, n.Addr))
		if n.Device.Kind == Kind {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Subscribe: %v, want the callback's error", err)
	}
	want := []string{
		`link 40 "vlan40" "vlan" invalid Prefix`,
		`addr 40 "" "" 192.0.2.7/24`,
		`addr-deleted 40 "" "" 2001:db8::7/64`,
		`resync 0 "" "" invalid Prefix`,
		`link-deleted 40 "vlan40" "vlan" invalid Prefix`,
		`link 41 "amtr" "amt" invalid Prefix`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if wantGroups := uint32(1<<(unix.RTNLGRP_LINK-1) | 1<<(unix.RTNLGRP_IPV4_IFADDR-1) | 1<<(unix.RTNLGRP_IPV6_IFADDR-1)); k.groups != wantGroups {
		t.Errorf("subscribed to groups %#x, want %#x (links, IPv4 and IPv6 addresses)", k.groups, wantGroups)
	}
	if len(k.reqs) != 0 {
		t.Errorf("Subscribe sent %d requests, want none", len(k.reqs))
	}
}

// TestSubscribeEnds: a cancelled context ends Subscribe with nil; a
// receive error other than ENOBUFS, a malformed message or the socket going
// away end it with an *Error.
func TestSubscribeEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := subscribeLoop(ctx, SubscribeOptions{}, make(chan received), func(Notification) error { return nil }); err != nil {
		t.Errorf("cancelled: %v, want nil", err)
	}
	for name, r := range map[string]received{
		"EBADF": {err: &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.EBADF)}},
		"short": {msgs: []netlink.Message{{Header: netlink.Header{Type: unix.RTM_NEWLINK}, Data: []byte{1, 2}}}},
	} {
		ch := make(chan received, 1)
		ch <- r
		err := subscribeLoop(context.Background(), SubscribeOptions{}, ch, func(Notification) error { return nil })
		var e *Error
		if !errors.As(err, &e) || e.Op != "subscribe" {
			t.Errorf("%s: %v, want a subscribe *Error", name, err)
		}
	}
	ch := make(chan received)
	close(ch)
	if err := subscribeLoop(context.Background(), SubscribeOptions{}, ch, func(Notification) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "closed") {
		t.Errorf("socket gone: %v", err)
	}
	if err := (&Client{c: newFakeKernel(t).client()}).Subscribe(context.Background(), SubscribeOptions{}, nil); err == nil {
		t.Errorf("Subscribe(nil fn): nil error")
	}
}

func TestNotificationTypeString(t *testing.T) {
	for typ, want := range map[NotificationType]string{
		NotifyLink: "link", NotifyLinkDeleted: "link-deleted", NotifyAddr: "addr", NotifyAddrDeleted: "addr-deleted",
		NotifyResync: "resync", 99: "unknown notification type value (99)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(typ), got, want)
		}
	}
	if got := EventResynced.String(); got != "resynced" {
		t.Errorf("EventResynced.String() = %q", got)
	}
}
