//go:build linux

package amtlink

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// encodeDevice is the inverse of decodeDevice, for round trips.
func encodeDevice(tb testing.TB, d Device) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint16(b[2:], d.Type)
	binary.NativeEndian.PutUint32(b[4:], d.Index)
	binary.NativeEndian.PutUint32(b[8:], d.Flags)
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, d.Name)
	ae.Uint32(unix.IFLA_MTU, d.MTU)
	if d.Master != 0 {
		ae.Uint32(unix.IFLA_MASTER, d.Master)
	}
	if d.Kind != "" {
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, d.Kind)
			return nil
		})
	}
	attrs, err := ae.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return append(b, attrs...)
}

// FuzzDecodeDevice: no input panics, and whatever decodes survives a round
// trip through encodeDevice.
func FuzzDecodeDevice(f *testing.F) {
	f.Add(encodeDevice(f, Device{Index: 2, Name: "eth0", Kind: "veth", Flags: unix.IFF_UP, Type: 1, MTU: 1500, Master: 3}))
	f.Add(encodeDevice(f, Device{Index: 1, Name: "lo", Type: unix.ARPHRD_LOOPBACK, MTU: 65536}))
	f.Add(encodeKernelLink(f, &fakeLink{index: 10, name: "amtr", kind: Kind, mtu: 1456}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDevice(b)
		if err != nil {
			return
		}
		if !validString(d.Name) || !validString(d.Kind) {
			return // NUL bytes inside do not survive the string encoding
		}
		d2, err := decodeDevice(encodeDevice(t, d))
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", d, err)
		}
		if diff := cmp.Diff(d, d2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func validString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}

// FuzzDecodeAddr: no input panics, a decoded prefix is valid and of the
// message's family, and it survives a round trip.
func FuzzDecodeAddr(f *testing.F) {
	f.Add(addrMsg(f, 2, netip.MustParsePrefix("10.0.0.1/24"), netip.Addr{}))
	f.Add(addrMsg(f, 2, netip.MustParsePrefix("10.9.0.1/32"), netip.MustParseAddr("10.9.0.2")))
	f.Add(addrMsg(f, 3, netip.MustParsePrefix("fe80::1/64"), netip.Addr{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, p, err := decodeAddr(b)
		if err != nil || !p.IsValid() {
			return
		}
		if (b[0] == unix.AF_INET) != p.Addr().Is4() {
			t.Fatalf("family %d decoded as %v", b[0], p)
		}
		idx2, p2, err := decodeAddr(addrMsg(t, idx, p, netip.Addr{}))
		if err != nil || idx2 != idx || p2 != p {
			t.Errorf("round trip of %d %v: %d %v %v", idx, p, idx2, p2, err)
		}
	})
}
