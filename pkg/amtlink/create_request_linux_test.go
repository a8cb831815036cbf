//go:build linux

package amtlink

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestAppendCreateRequest: the request Create writes is, byte for byte,
// what rtnetlink.LinkMessage.MarshalBinary makes of the same link with the
// Driver as its IFLA_INFO_DATA, behind the netlink header.
func TestAppendCreateRequest(t *testing.T) {
	gw := ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: netip.MustParseAddr("10.0.0.1"),
		Discovery: netip.MustParseAddr("10.0.0.2"), Link: ifla.Ptr[uint32](7),
		GatewayPort: ifla.Ptr[uint16](2268), RelayPort: ifla.Ptr[uint16](2268),
	}
	relay := ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("172.17.0.1"), Link: ifla.Ptr[uint32](3), MaxTunnels: ifla.Ptr[uint32](4)}
	unknown := relay
	unknown.Unknown = []netlink.Attribute{{Type: 42, Data: []byte{1, 2, 3}}}
	for _, tt := range []struct {
		name   string
		s      Spec
		a      ifla.AMT
		master uint32
		flags  netlink.HeaderFlags
	}{
		{"gateway", Spec{Name: "amtg"}, gw, 0, netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge | netlink.Echo},
		{"relay up with mtu", Spec{Name: "amtr", MTU: 1400, Up: true}, relay, 0, netlink.Request | netlink.Acknowledge},
		{"master, 15-byte name", Spec{Name: "a23456789012345"}, relay, 9, netlink.Request},
		{"name of 4n-1 bytes", Spec{Name: "abc"}, gw, 0, netlink.Request},
		{"unknown attributes", Spec{Name: "amtu"}, unknown, 0, netlink.Request},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lm := &rtnetlink.LinkMessage{
				Family: unix.AF_UNSPEC,
				Attributes: &rtnetlink.LinkAttributes{
					Name: tt.s.Name,
					MTU:  tt.s.MTU,
					Info: &rtnetlink.LinkInfo{Kind: Kind, Data: &Driver{AMT: tt.a}},
				},
			}
			if tt.master != 0 {
				lm.Attributes.Master = &tt.master
			}
			if tt.s.Up {
				lm.Flags, lm.Change = unix.IFF_UP, unix.IFF_UP
			}
			body, err := lm.MarshalBinary()
			if err != nil {
				t.Fatalf("rtnetlink: %v", err)
			}
			want, err := netlink.Message{
				Header: netlink.Header{Length: uint32(unix.NLMSG_HDRLEN + len(body)), Type: unix.RTM_NEWLINK, Flags: tt.flags, Sequence: 77},
				Data:   body,
			}.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("prefix")
			got, err := appendCreateRequest(prefix, uint16(tt.flags), 77, &tt.s, &tt.a, tt.master)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(prefix)], []byte("prefix")) {
				t.Fatalf("the prefix was overwritten: %q", got[:len(prefix)])
			}
			if !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("request:\n got % x\nwant % x", got[len(prefix):], want)
			}
		})
	}
}

// TestAppendCreateRequestError: an AMT the wire cannot carry leaves b as
// it was.
func TestAppendCreateRequestError(t *testing.T) {
	a := ifla.AMT{Local: netip.MustParseAddr("2001:db8::1")}
	b := []byte("keep")
	got, err := appendCreateRequest(b, 0, 1, &Spec{Name: "x"}, &a, 0)
	if err == nil || string(got) != "keep" {
		t.Fatalf("appendCreateRequest = %q, %v; want %q and an error", got, err, "keep")
	}
	// Each attribute fits, but together they overflow IFLA_LINKINFO's
	// 16-bit length.
	big := ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Unknown: []netlink.Attribute{{Type: 42, Data: make([]byte, 40000)}, {Type: 43, Data: make([]byte, 40000)}}}
	got, err = appendCreateRequest(b, 0, 1, &Spec{Name: "x"}, &big, 0)
	if err == nil || string(got) != "keep" {
		t.Fatalf("appendCreateRequest(80000 bytes of AMT data) = %d bytes, %v; want %q and an error", len(got), err, "keep")
	}
}
