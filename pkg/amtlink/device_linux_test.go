//go:build linux

package amtlink

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// TestDevice: one lookup by name without statistics and one address dump
// asking for that index; addresses of other devices (a kernel without
// strict checking ignores ifa_index) are left out.
func TestDevice(t *testing.T) {
	links := baseLinks()
	var reqs []netlink.Message
	serve := func(req []netlink.Message) ([]netlink.Message, error) {
		reqs = append(reqs, req[0])
		h := req[0].Header
		reply := func(typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) netlink.Message {
			return netlink.Message{Header: netlink.Header{Type: typ, Flags: flags, Sequence: h.Sequence, PID: h.PID}, Data: data}
		}
		switch h.Type {
		case unix.RTM_GETLINK:
			for i := range links {
				if string(nlwire.Find(req[0].Data[unix.SizeofIfInfomsg:], unix.IFLA_IFNAME)) == links[i].name+"\x00" {
					return []netlink.Message{reply(unix.RTM_NEWLINK, 0, encodeKernelLink(t, &links[i]))}, nil
				}
			}
			return nltest.Error(int(unix.ENODEV), req)
		case unix.RTM_GETADDR:
			return []netlink.Message{
				reply(unix.RTM_NEWADDR, netlink.Multi, addrMsg(t, 1, netip.MustParsePrefix("127.0.0.1/8"), netip.Addr{})),
				reply(unix.RTM_NEWADDR, netlink.Multi, addrMsg(t, 2, netip.MustParsePrefix("10.0.0.1/24"), netip.Addr{})),
				reply(unix.RTM_NEWADDR, netlink.Multi, addrMsg(t, 2, netip.MustParsePrefix("fe80::1/64"), netip.Addr{})),
				reply(netlink.Done, netlink.Multi, nlenc.Int32Bytes(0)),
			}, nil
		}
		t.Fatalf("unexpected request type %d", h.Type)
		return nil, nil
	}
	c, _ := testClient(t, serve)
	got, err := c.Device("eth0")
	if err != nil {
		t.Fatalf("Device: %v", err)
	}
	want := &Device{Index: 2, Name: "eth0", Kind: "veth", Flags: unix.IFF_UP, Type: unix.ARPHRD_NONE, MTU: 1500,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fe80::1/64")}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Device (-want +got):\n%s", diff)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if r := reqs[0]; r.Header.Flags != netlink.Request || string(r.Data[len(r.Data)-8:]) != string(skipStats) {
		t.Errorf("lookup: flags %v data % x, want a lookup by name without statistics", r.Header.Flags, r.Data)
	}
	if r := reqs[1]; r.Header.Flags&netlink.Dump != netlink.Dump || nlenc.Uint32(r.Data[4:8]) != 2 {
		t.Errorf("address dump: flags %v data % x, want a dump for ifa_index 2", r.Header.Flags, r.Data)
	}
	if _, err := c.Device("nope0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Device(nope0): %v, want os.ErrNotExist", err)
	}
}
