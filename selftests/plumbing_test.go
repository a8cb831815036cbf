//go:build linux

package selftests

import (
	"fmt"
	"net/netip"
	"testing"
)

// The plumbing suite runs on any kernel with multicast routing, AMT or not:
// the same namespaces, veths, bridge, addresses, routes and sysctls as the
// AMT suite, but the gateway bridges gw_relay straight into br0 where the
// amt link would be, and the relay routes multicast out of relay_gw instead
// of amtr. A datagram that crosses proves every piece of the harness the AMT
// cases stand on; when an AMT case fails and this passes, look at AMT.

var (
	sourceV4b = netip.MustParsePrefix("172.17.0.3/24") // a second source, for source-specific joins
	sourceV6b = netip.MustParsePrefix("2001:db8:3::3/64")
)

type plumbing struct {
	*topology
}

func setupPlumbing(t *testing.T) *plumbing {
	requireRoot(t)
	tp := newBaseTopology(t)
	G, S := tp.gateway, tp.source
	for _, err := range []error{
		G.setMaster("gw_relay", "br0"),
		S.addAddr("src_relay", sourceV4b),
		S.addAddr("src_relay", sourceV6b),
		tp.mr4.route(sourceV4.Addr(), group4, "relay_src", "relay_gw"),
		tp.mr4.route(sourceV4b.Addr(), group4, "relay_src", "relay_gw"),
		tp.mr6.route(sourceV6.Addr(), group6, "relay_src", "relay_gw"),
		tp.mr6.route(sourceV6b.Addr(), group6, "relay_src", "relay_gw"),
	} {
		if err != nil {
			t.Fatalf("%v (%s)", err, tp)
		}
	}
	return &plumbing{tp}
}

// diag reports what the relay's multicast routing counted.
func (p *plumbing) diag() func() string {
	return func() string {
		in, _ := p.relay.linkStats("relay_src")
		out, _ := p.relay.linkStats("relay_gw")
		l, _ := p.listener.linkStats("l_gw")
		return fmt.Sprintf("relay_src rx %d pkts, relay_gw tx %d pkts, listener l_gw rx %d pkts (multicast %d)",
			in.RXPackets, out.TXPackets, l.RXPackets, l.Multicast)
	}
}
