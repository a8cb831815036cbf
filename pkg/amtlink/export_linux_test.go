//go:build linux

package amtlink

import (
	"fmt"
	"net/netip"

	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/sys/unix"
)

// FakeDial is Dial for the Examples (package amtlink_test): a Client on a
// fake kernel, through the code that reads a real socket, in a namespace
// of lo, eth0 (a veth, up, 192.0.2.2/24), br0 (a bridge), a veth veth9,
// and a gateway amtg on eth0 that has found its relay 192.0.2.1. The fake
// panics where a test would fail.
func FakeDial() *Client {
	gw := ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), RelayPort: ifla.Ptr(ifla.DefaultPort), GatewayPort: ifla.Ptr(ifla.DefaultPort),
		Link: ifla.Ptr[uint32](2), Local: netip.MustParseAddr("192.0.2.2"), Discovery: netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("192.0.2.1"), MaxTunnels: ifla.Ptr(ifla.DefaultMaxTunnels),
	}
	k := newFakeKernel(exampleTB{},
		fakeLink{index: 1, name: "lo", flags: unix.IFF_UP | unix.IFF_LOOPBACK, mtu: 65536},
		fakeLink{index: 2, name: "eth0", kind: "veth", flags: unix.IFF_UP, mtu: 1500},
		fakeLink{index: 3, name: "br0", kind: "bridge", flags: unix.IFF_UP, mtu: 1500},
		fakeLink{index: 4, name: "veth9", kind: "veth", flags: unix.IFF_UP, mtu: 1500},
		fakeLink{index: 5, name: "amtg", kind: Kind, flags: unix.IFF_UP | unix.IFF_POINTOPOINT | unix.IFF_NOARP, mtu: 1456, amt: &gw},
	)
	k.addrs = []fakeAddr{
		{1, netip.MustParsePrefix("127.0.0.1/8")},
		{2, netip.MustParsePrefix("192.0.2.2/24")},
	}
	c, _ := testClient(exampleTB{}, k.serve)
	c.subscribe = k.subscribe
	return &Client{c: c}
}

// exampleTB is the fakes' testing.TB in an Example: a failure panics.
type exampleTB struct{}

func (exampleTB) Helper()                           {}
func (exampleTB) Cleanup(func())                    {}
func (exampleTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
