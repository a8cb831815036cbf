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
	"time"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"
)

// newLinkRequests returns the RTM_NEWLINK requests k has seen, decoded.
func newLinkRequests(t *testing.T, k *fakeKernel) ([]netlink.Message, []rtnetlink.LinkMessage) {
	t.Helper()
	var msgs []netlink.Message
	var lms []rtnetlink.LinkMessage
	for _, r := range k.reqs {
		if r.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		var lm rtnetlink.LinkMessage
		if err := lm.UnmarshalBinary(r.Data); err != nil {
			t.Fatalf("decoding request: %v", err)
		}
		msgs, lms = append(msgs, r), append(lms, lm)
	}
	return msgs, lms
}

func TestSetRequest(t *testing.T) {
	l := amtLink(10, "amtr", 2)
	k := newFakeKernel(t, append(baseLinks(), l)...)
	c := k.client()

	got, err := c.Set("amtr", Change{Up: ifla.Ptr(true), MTU: ifla.Ptr[uint32](1400), Master: ifla.Ptr("br0")})
	if err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got.Index != 10 || got.MTU != 1400 || got.LowerName != "eth0" {
		t.Errorf("read back %+v, want index 10, mtu 1400, lower eth0", got)
	}
	msgs, lms := newLinkRequests(t, k)
	if len(lms) != 1 {
		t.Fatalf("%d RTM_NEWLINK requests, want exactly 1", len(lms))
	}
	if f := msgs[0].Header.Flags; f&(netlink.Create|netlink.Excl) != 0 || f&netlink.Acknowledge == 0 {
		t.Errorf("flags %v: want Request|Acknowledge without Create/Excl", f)
	}
	lm := lms[0]
	if lm.Index != 10 || lm.Flags != unix.IFF_UP || lm.Change != unix.IFF_UP {
		t.Errorf("ifinfomsg index %d flags %#x change %#x, want 10, IFF_UP, IFF_UP", lm.Index, lm.Flags, lm.Change)
	}
	if a := lm.Attributes; a == nil || a.MTU != 1400 || a.Master == nil || *a.Master != 3 || a.Info != nil {
		t.Errorf("attributes %+v, want mtu 1400, master 3 (br0), no link info", a)
	}
}

func TestSetDownNomaster(t *testing.T) {
	l := amtLink(10, "amtr", 2)
	l.master, l.flags = 3, unix.IFF_UP
	k := newFakeKernel(t, append(baseLinks(), l)...)
	if _, err := k.client().Set("amtr", Change{Up: ifla.Ptr(false), Master: ifla.Ptr("")}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	_, lms := newLinkRequests(t, k)
	if len(lms) != 1 {
		t.Fatalf("%d RTM_NEWLINK requests, want 1", len(lms))
	}
	lm := lms[0]
	if lm.Flags != 0 || lm.Change != unix.IFF_UP {
		t.Errorf("flags %#x change %#x, want 0 and IFF_UP (down)", lm.Flags, lm.Change)
	}
	if a := lm.Attributes; a == nil || a.Master == nil || *a.Master != 0 || a.MTU != 0 {
		t.Errorf("attributes %+v, want IFLA_MASTER 0 (detach) and no mtu", a)
	}
	// nomaster needs no lookup by name: the only name lookup is Set's own.
	for _, r := range k.reqs[1:] {
		var lm rtnetlink.LinkMessage
		if err := lm.UnmarshalBinary(r.Data); err == nil && r.Header.Type == unix.RTM_GETLINK && lm.Index == 0 && lm.Attributes != nil && lm.Attributes.Name == "" {
			t.Errorf("a lookup of an empty name was sent")
		}
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct {
		name, link string
		ch         Change
		want       string
		is         []error
		sent       int // requests that may reach the kernel
	}{
		{name: "mtu too small", link: "amtr", ch: Change{MTU: ifla.Ptr[uint32](10)},
			want: `set amtr: mtu "10": out of range; use 68 to 65535`, sent: 0},
		{name: "bad master name", link: "amtr", ch: Change{Master: ifla.Ptr("a/b")},
			want: `set amtr: master "a/b": contains "/"`, sent: 0},
		{name: "master is itself", link: "amtr", ch: Change{Master: ifla.Ptr("amtr")},
			want: `set amtr: master "amtr": is the link itself`, sent: 0},
		{name: "bad link name", link: "", ch: Change{Up: ifla.Ptr(true)},
			want: `set: name: required`, sent: 0},
		{name: "no such link", link: "nope", ch: Change{Up: ifla.Ptr(true)},
			want: `set nope: link "nope" not found in this namespace`, is: []error{os.ErrNotExist}, sent: 1},
		{name: "not amt", link: "eth0", ch: Change{Up: ifla.Ptr(true)},
			want: `set eth0: eth0 is a veth link, not amt`, is: []error{ErrNotAMT, os.ErrNotExist}, sent: 1},
		{name: "no such master", link: "amtr", ch: Change{Master: ifla.Ptr("br9")},
			want: `set amtr: master "br9" not found in this namespace`, is: []error{os.ErrNotExist}, sent: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
			_, err := k.client().Set(tc.link, tc.ch)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Set: %v, want %q...", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not *Error", err)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("%v is not %v", err, target)
				}
			}
			if len(k.reqs) != tc.sent {
				t.Errorf("%d requests sent, want %d", len(k.reqs), tc.sent)
			}
			if _, lms := newLinkRequests(t, k); len(lms) != 0 {
				t.Errorf("an RTM_NEWLINK was sent for a refused change")
			}
		})
	}
}

func TestSetKernelRefuses(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
	_, err := k.client().Set("amtr", Change{MTU: ifla.Ptr[uint32](9000)})
	want := "set amtr: kernel: mtu greater than device maximum (invalid argument)"
	if err == nil || err.Error() != want {
		t.Errorf("Set: %v, want %q", err, want)
	}
}

func TestSetNothing(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
	l, err := k.client().Set("amtr", Change{})
	if err != nil || l.Name != "amtr" {
		t.Fatalf("Set with no change: %+v, %v", l, err)
	}
	if _, lms := newLinkRequests(t, k); len(lms) != 0 {
		t.Errorf("an empty Change sent an RTM_NEWLINK")
	}
}

func TestSpecValidate(t *testing.T) {
	s := gatewaySpec()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate(valid spec with Dev): %v", err)
	}
	s.MTU = 20
	var fe *ifla.FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "mtu" {
		t.Errorf("Validate(mtu 20) = %v, want a FieldError for mtu", err)
	}
	s = gatewaySpec()
	s.AMT.Discovery = netip.Addr{}
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "discovery" {
		t.Errorf("Validate(gateway without discovery) = %v, want a FieldError for discovery", err)
	}
}

// addrMsg encodes an RTM_NEWADDR payload as the kernel's inet_fill_ifaddr
// does (IFA_ADDRESS, then IFA_LOCAL for IPv4).
func addrMsg(t testing.TB, index uint32, p netip.Prefix, peer netip.Addr) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	if p.Addr().Is6() {
		b[0] = unix.AF_INET6
	}
	b[1] = byte(p.Bits())
	binary.NativeEndian.PutUint32(b[4:], index)
	ae := netlink.NewAttributeEncoder()
	if peer.IsValid() {
		ae.Bytes(unix.IFA_ADDRESS, peer.AsSlice())
	} else {
		ae.Bytes(unix.IFA_ADDRESS, p.Addr().AsSlice())
	}
	if p.Addr().Is4() {
		ae.Bytes(unix.IFA_LOCAL, p.Addr().AsSlice())
	}
	ae.String(unix.IFA_LABEL, "x")
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append(b, attrs...)
}

func TestDevices(t *testing.T) {
	links := append(baseLinks(), amtLink(10, "amtr", 2))
	links[2].master = 0
	links[1].master = 3
	var reqs []netlink.Message
	serve := func(req []netlink.Message) ([]netlink.Message, error) {
		if len(req) != 1 {
			t.Fatalf("%d messages in one send", len(req))
		}
		reqs = append(reqs, req[0])
		h := req[0].Header
		done := netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: h.Sequence, PID: h.PID}, Data: nlenc.Int32Bytes(0)}
		reply := func(typ netlink.HeaderType, data []byte) netlink.Message {
			return netlink.Message{Header: netlink.Header{Type: typ, Flags: netlink.Multi, Sequence: h.Sequence, PID: h.PID}, Data: data}
		}
		var out []netlink.Message
		switch h.Type {
		case unix.RTM_GETLINK:
			// Out of order, as a dump may be.
			for i := len(links) - 1; i >= 0; i-- {
				out = append(out, reply(unix.RTM_NEWLINK, encodeKernelLink(t, &links[i])))
			}
		case unix.RTM_GETADDR:
			out = append(out,
				reply(unix.RTM_NEWADDR, addrMsg(t, 1, netip.MustParsePrefix("127.0.0.1/8"), netip.Addr{})),
				reply(unix.RTM_NEWADDR, addrMsg(t, 2, netip.MustParsePrefix("10.0.0.1/24"), netip.Addr{})),
				reply(unix.RTM_NEWADDR, addrMsg(t, 2, netip.MustParsePrefix("10.9.0.1/32"), netip.MustParseAddr("10.9.0.2"))),
				reply(unix.RTM_NEWADDR, addrMsg(t, 2, netip.MustParsePrefix("fe80::1/64"), netip.Addr{})),
				reply(unix.RTM_NEWADDR, addrMsg(t, 99, netip.MustParsePrefix("192.0.2.1/24"), netip.Addr{})), // gone meanwhile
			)
		default:
			t.Fatalf("unexpected request type %d", h.Type)
		}
		return append(out, done), nil
	}
	c, _ := testClient(t, serve)
	devs, err := c.Devices()
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if len(reqs) != 2 || reqs[0].Header.Flags&netlink.Dump != netlink.Dump || reqs[1].Header.Type != unix.RTM_GETADDR {
		t.Errorf("requests %+v: want one link dump and one address dump", reqs)
	}
	want := []Device{
		{Index: 1, Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK, Type: unix.ARPHRD_NONE, MTU: 65536,
			Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Index: 2, Name: "eth0", Kind: "veth", Flags: unix.IFF_UP, Type: unix.ARPHRD_NONE, MTU: 1500, Master: 3,
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("10.9.0.1/32"), netip.MustParsePrefix("fe80::1/64")}},
		{Index: 3, Name: "br0", Kind: "bridge", Flags: unix.IFF_UP, Type: unix.ARPHRD_NONE, MTU: 1500},
		{Index: 10, Name: "amtr", Kind: "amt", Type: unix.ARPHRD_NONE, MTU: 1456},
	}
	if diff := cmp.Diff(want, devs, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Devices (-want +got):\n%s", diff)
	}
	if !devs[1].HasAddr(netip.MustParseAddr("10.9.0.1")) || devs[1].HasAddr(netip.MustParseAddr("10.9.0.2")) {
		t.Errorf("HasAddr: the local address of a point-to-point address is the device's, the peer is not")
	}
	if !devs[0].Up() || devs[3].Up() {
		t.Errorf("Up(): lo %v amtr %v", devs[0].Up(), devs[3].Up())
	}
}

func TestDecodeAddrMalformed(t *testing.T) {
	b := addrMsg(t, 2, netip.MustParsePrefix("10.0.0.1/24"), netip.Addr{})
	b[1] = 40 // /40 for IPv4
	if _, _, err := decodeAddr(b); err == nil {
		t.Errorf("decodeAddr accepted prefix length 40 for IPv4")
	}
	if _, _, err := decodeAddr(b[:5]); err == nil {
		t.Errorf("decodeAddr accepted a truncated ifaddrmsg")
	}
	b = addrMsg(t, 2, netip.MustParsePrefix("10.0.0.1/24"), netip.Addr{})
	if _, _, err := decodeAddr(b[:len(b)-3]); err == nil {
		t.Errorf("decodeAddr accepted a truncated attribute")
	}
}

func gwLink(index uint32, name string, flags uint32, remote string) *Link {
	l := &Link{Index: index, Name: name, Flags: flags, AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeGateway)}}
	if remote != "" {
		l.AMT.Remote = netip.MustParseAddr(remote)
	}
	return l
}

func TestTransitions(t *testing.T) {
	const up = unix.IFF_UP
	for _, tc := range []struct {
		name      string
		prev, cur *Link
		relay     bool
		want      []string // "type remote previous"
	}{
		{"nothing", nil, nil, true, nil},
		{"created down", nil, gwLink(5, "g", 0, "0.0.0.0"), true, []string{"created invalid IP invalid IP"}},
		{"created up", nil, gwLink(5, "g", up, ""), true, []string{"created invalid IP invalid IP", "up invalid IP invalid IP"}},
		{"created up with relay", nil, gwLink(5, "g", up, "10.0.0.1"), true,
			[]string{"created invalid IP invalid IP", "up invalid IP invalid IP", "relay-discovered 10.0.0.1 invalid IP"}},
		{"created, relay not checked", nil, gwLink(5, "g", 0, "10.0.0.1"), false, []string{"created invalid IP invalid IP"}},
		{"deleted", gwLink(5, "g", up, "10.0.0.1"), nil, true, []string{"deleted invalid IP invalid IP"}},
		{"up", gwLink(5, "g", 0, ""), gwLink(5, "g", up, ""), true, []string{"up invalid IP invalid IP"}},
		{"down", gwLink(5, "g", up, ""), gwLink(5, "g", 0, ""), true, []string{"down invalid IP invalid IP"}},
		{"other flags", gwLink(5, "g", up, ""), gwLink(5, "g", up|unix.IFF_RUNNING, ""), true, nil},
		{"discovered from unset", gwLink(5, "g", up, ""), gwLink(5, "g", up, "10.0.0.1"), true, []string{"relay-discovered 10.0.0.1 invalid IP"}},
		{"discovered from 0.0.0.0", gwLink(5, "g", up, "0.0.0.0"), gwLink(5, "g", up, "10.0.0.1"), true, []string{"relay-discovered 10.0.0.1 invalid IP"}},
		{"discovered, relay not checked", gwLink(5, "g", up, "0.0.0.0"), gwLink(5, "g", up, "10.0.0.1"), false, nil},
		{"changed", gwLink(5, "g", up, "10.0.0.1"), gwLink(5, "g", up, "10.0.0.9"), true, []string{"relay-changed 10.0.0.9 10.0.0.1"}},
		{"lost to 0.0.0.0", gwLink(5, "g", up, "10.0.0.1"), gwLink(5, "g", up, "0.0.0.0"), true, []string{"relay-lost invalid IP 10.0.0.1"}},
		{"lost to unset", gwLink(5, "g", up, "10.0.0.1"), gwLink(5, "g", up, ""), true, []string{"relay-lost invalid IP 10.0.0.1"}},
		{"unset to 0.0.0.0", gwLink(5, "g", up, ""), gwLink(5, "g", up, "0.0.0.0"), true, nil},
		{"same relay", gwLink(5, "g", up, "10.0.0.1"), gwLink(5, "g", up, "10.0.0.1"), true, nil},
		{"down and lost", gwLink(5, "g", up, "10.0.0.1"), gwLink(5, "g", 0, "0.0.0.0"), true, []string{"down invalid IP invalid IP", "relay-lost invalid IP 10.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range transitions(tc.prev, tc.cur, tc.relay) {
				got = append(got, fmt.Sprintf("%s %s %s", e.Type, e.Remote, e.Previous))
				if e.Link.Index != 5 || !e.Time.IsZero() {
					t.Errorf("%s: link %d time %v, want link 5 and no time", e.Type, e.Link.Index, e.Time)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventTypeString(t *testing.T) {
	want := []string{"created", "deleted", "up", "down", "relay-discovered", "relay-changed", "relay-lost"}
	for i, w := range want {
		if got := EventType(i).String(); got != w {
			t.Errorf("EventType(%d) = %q, want %q", i, got, w)
		}
	}
	if got := EventType(42).String(); got != "unknown event type value (42)" {
		t.Errorf("EventType(42) = %q", got)
	}
	if b, _ := EventRelayLost.MarshalText(); string(b) != "relay-lost" {
		t.Errorf("MarshalText = %q", b)
	}
}

// notification wraps a link as the kernel multicasts it (sequence 0).
func notification(t *testing.T, typ netlink.HeaderType, l fakeLink) received {
	return received{msgs: []netlink.Message{{Header: netlink.Header{Type: typ}, Data: encodeKernelLink(t, &l)}}}
}

func gatewayFake(index uint32) fakeLink {
	l := amtLink(index, "amtg", 2)
	l.amt.Mode = ifla.Ptr(ifla.ModeGateway)
	l.amt.Local = netip.MustParseAddr("10.0.0.2")
	l.amt.Discovery = netip.MustParseAddr("10.0.0.1")
	return l
}

var errStop = errors.New("test: stop")

// TestWatchLoop drives the whole event life of a gateway through the loop:
// notifications come from a channel, relay changes from the fake kernel's
// dump, and each step is triggered from the callback or from the fake
// kernel's request hook, so the test needs no timing at all.
func TestWatchLoop(t *testing.T) {
	relay := amtLink(10, "amtr", 2) // exists before: not reported
	k := newFakeKernel(t, append(baseLinks(), relay)...)
	c := k.client()
	gw := gatewayFake(11)
	ch := make(chan received, 8)
	ch <- notification(t, unix.RTM_NEWLINK, gw) // created, down

	kernelGW := func() *fakeLink {
		if l := k.byIndex(11); l != nil {
			return l
		}
		t.Fatalf("fake kernel has no link 11")
		return nil
	}
	setRemote := func(a string) { kernelGW().amt.Remote = netip.MustParseAddr(a) }
	// dumpsUntilDown > 0 counts polls down to the moment the "down"
	// notification arrives.
	dumpsUntilDown := 0
	k.fail = func(req netlink.Message, _ *rtnetlink.LinkMessage) (unix.Errno, string) {
		if req.Header.Flags&netlink.Dump != 0 && dumpsUntilDown > 0 {
			if dumpsUntilDown--; dumpsUntilDown == 0 {
				gw.flags &^= unix.IFF_UP
				ch <- notification(t, unix.RTM_NEWLINK, gw)
			}
		}
		return 0, ""
	}
	var got []string
	fn := func(e Event) error {
		got = append(got, fmt.Sprintf("%s %s lower=%s remote=%s previous=%s", e.Type, e.Link.Name, e.Link.LowerName, e.Remote, e.Previous))
		if e.Time.IsZero() {
			t.Errorf("%s: no time", e.Type)
		}
		switch e.Type {
		case EventCreated:
			// The kernel has it now; the loop polls it from here on.
			gw.flags |= unix.IFF_UP
			k.links = append(k.links, gw)
			ch <- notification(t, unix.RTM_NEWLINK, gw)
		case EventUp:
			setRemote("10.0.0.1")
		case EventRelayDiscovered:
			setRemote("10.0.0.9")
		case EventRelayChanged:
			// The link goes down, which clears the relay at once, but
			// its notification is late by a few polls: the relay-lost
			// must still come after the down.
			kernelGW().flags &^= unix.IFF_UP
			setRemote("0.0.0.0")
			dumpsUntilDown = 3
		case EventRelayLost:
			// A non-amt link changing is not reported.
			ch <- notification(t, unix.RTM_NEWLINK, baseLinks()[1])
			ch <- notification(t, unix.RTM_DELLINK, gw)
		case EventDeleted:
			return errStop
		}
		return nil
	}
	err := c.watchLoop(context.Background(), WatchOptions{PollInterval: time.Millisecond}, ch, fn)
	if !errors.Is(err, errStop) {
		t.Fatalf("watchLoop: %v, want the callback's error", err)
	}
	want := []string{
		"created amtg lower=eth0 remote=invalid IP previous=invalid IP",
		"up amtg lower=eth0 remote=invalid IP previous=invalid IP",
		"relay-discovered amtg lower=eth0 remote=10.0.0.1 previous=invalid IP",
		"relay-changed amtg lower=eth0 remote=10.0.0.9 previous=10.0.0.1",
		"down amtg lower=eth0 remote=invalid IP previous=invalid IP",
		"relay-lost amtg lower=eth0 remote=invalid IP previous=10.0.0.9",
		"deleted amtg lower=eth0 remote=invalid IP previous=invalid IP",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestWatchNoPollWithoutGateways checks that relays alone are never polled.
func TestWatchNoPollWithoutGateways(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
	c := k.client()
	ch := make(chan received, 4)
	r := amtLink(12, "amtr2", 2)
	ch <- notification(t, unix.RTM_NEWLINK, r)
	var events int
	fn := func(e Event) error {
		events++
		if events == 1 {
			// Give a ticker a chance to fire, were there one.
			go func() {
				time.Sleep(20 * time.Millisecond)
				r.flags = unix.IFF_UP
				ch <- notification(t, unix.RTM_NEWLINK, r)
			}()
			return nil
		}
		return errStop
	}
	if err := c.watchLoop(context.Background(), WatchOptions{PollInterval: time.Millisecond}, ch, fn); !errors.Is(err, errStop) {
		t.Fatalf("watchLoop: %v", err)
	}
	dumps := 0
	for _, r := range k.reqs {
		if r.Header.Type == unix.RTM_GETLINK && r.Header.Flags&netlink.Dump != 0 {
			dumps++
		}
	}
	if dumps != 1 {
		t.Errorf("%d link dumps, want 1 (the starting list): relays alone must not be polled", dumps)
	}
}

// TestWatchResync checks that a receive overrun (ENOBUFS) lists the links
// again and reports that it did (EventResynced), then what changed.
func TestWatchResync(t *testing.T) {
	k := newFakeKernel(t, append(baseLinks(), amtLink(10, "amtr", 2))...)
	c := k.client()
	ch := make(chan received, 2)
	var got []string
	started := false
	fn := func(e Event) error {
		got = append(got, e.Type.String()+" "+e.Link.Name)
		if e.Type == EventDeleted {
			return errStop
		}
		return nil
	}
	// Changes the loop will only learn of from the second listing.
	ch <- received{err: &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.ENOBUFS)}}
	gw := gatewayFake(11)
	gw.flags = unix.IFF_UP
	gw.amt.Remote = netip.MustParseAddr("10.0.0.1")
	k.fail = func(req netlink.Message, _ *rtnetlink.LinkMessage) (unix.Errno, string) {
		// After the starting list, the namespace changes.
		if req.Header.Flags&netlink.Dump != 0 {
			if started {
				k.links = append(k.links[:3], gw)
			}
			started = true
		}
		return 0, ""
	}
	if err := c.watchLoop(context.Background(), WatchOptions{}, ch, fn); !errors.Is(err, errStop) {
		t.Fatalf("watchLoop: %v", err)
	}
	want := []string{"resynced ", "created amtg", "up amtg", "relay-discovered amtg", "deleted amtr"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestWatchEndsOnContextAndErrors(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.watchLoop(ctx, WatchOptions{}, make(chan received), func(Event) error { return nil }); err != nil {
		t.Errorf("cancelled watchLoop: %v, want nil", err)
	}
	ch := make(chan received, 1)
	ch <- received{err: &netlink.OpError{Op: "receive", Err: os.NewSyscallError("recvmsg", unix.EBADF)}}
	err := c.watchLoop(context.Background(), WatchOptions{}, ch, func(Event) error { return nil })
	var e *Error
	if !errors.As(err, &e) || e.Op != "watch" || !errors.Is(err, unix.EBADF) {
		t.Errorf("watchLoop after a receive error: %v, want a watch *Error wrapping EBADF", err)
	}
	ch = make(chan received)
	close(ch)
	if err := c.watchLoop(context.Background(), WatchOptions{}, ch, func(Event) error { return nil }); err == nil {
		t.Errorf("watchLoop with the socket gone: nil error")
	}
	if err := (&Client{c: c}).Watch(context.Background(), WatchOptions{PollInterval: -1}, func(Event) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "interval") {
		t.Errorf("Watch(negative interval) = %v", err)
	}
}

// TestCreateAlias checks that Create and Add set Spec.Alias with a request
// of its own after the create (the kernel ignores IFLA_IFALIAS in one), and
// that Set changes and removes it.
func TestCreateAlias(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	s := Spec{Name: "amtg", Dev: "eth0", Alias: "amtctl:anycast", AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.2"), Discovery: netip.MustParseAddr("192.52.193.1")}}
	l, err := c.Create(s)
	if err != nil || l.Alias != "amtctl:anycast" {
		t.Fatalf("Create = %+v, %v; want alias amtctl:anycast", l, err)
	}
	_, lms := newLinkRequests(t, k)
	if len(lms) != 2 || lms[1].Attributes == nil || lms[1].Attributes.Alias == nil || *lms[1].Attributes.Alias != "amtctl:anycast" || lms[1].Attributes.Name != "amtg" {
		t.Errorf("requests %+v: want the create, then a set of IFLA_IFALIAS by name", lms)
	}
	s.Name = "amtg2"
	if err := c.Add(s); err != nil {
		t.Fatal(err)
	}
	if l, err := c.Get("amtg2"); err != nil || l.Alias != "amtctl:anycast" {
		t.Errorf("after Add: %+v, %v", l, err)
	}
	if l, err := c.Set("amtg", Change{Alias: ifla.Ptr("")}); err != nil || l.Alias != "" {
		t.Errorf("Set alias \"\": %+v, %v", l, err)
	}
	s.Name, s.Alias = "amtg3", strings.Repeat("x", MaxAlias+1)
	if _, err := c.Create(s); err == nil || !strings.Contains(err.Error(), "alias") {
		t.Errorf("Create with a 256-byte alias: %v", err)
	}
	// A failed alias request deletes the new link again.
	k.fail = func(req netlink.Message, lm *rtnetlink.LinkMessage) (unix.Errno, string) {
		if lm.Attributes != nil && lm.Attributes.Alias != nil {
			return unix.EPERM, ""
		}
		return 0, ""
	}
	s.Name, s.Alias = "amtg4", "amtctl:anycast"
	if _, err := c.Create(s); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Create with the alias refused: %v", err)
	}
	if _, err := c.Get("amtg4"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the half-made link is still there: %v", err)
	}
}
