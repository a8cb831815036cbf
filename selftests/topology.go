//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
)

// amt.sh's addressing plan, kept as is so results compare one to one.
var (
	listenerV4 = netip.MustParsePrefix("192.168.0.2/24") // l_gw
	listenerV6 = netip.MustParsePrefix("2001:db8::2/64")
	gwLanV4    = netip.MustParsePrefix("192.168.0.1/24") // gw_l
	gwLanV6    = netip.MustParsePrefix("2001:db8::1/64")
	gwUpV4     = netip.MustParsePrefix("10.0.0.1/24") // gw_relay, the gateway's tunnel end
	relayUpV4  = netip.MustParsePrefix("10.0.0.2/24") // relay_gw, the relay's tunnel end
	relaySrcV4 = netip.MustParsePrefix("172.17.0.1/24")
	relaySrcV6 = netip.MustParsePrefix("2001:db8:3::1/64")
	sourceV4   = netip.MustParsePrefix("172.17.0.2/24") // src_relay
	sourceV6   = netip.MustParsePrefix("2001:db8:3::2/64")

	// amt.sh's groups and ports: the listener joins these; the forwarding
	// checks use ports 4000/6000 and the torture 4001/6001.
	group4 = netip.MustParseAddr("239.0.0.1")
	group6 = netip.MustParseAddr("ff0e::5:6")
)

const (
	srcMTU = 1400 // src_relay, as amt.sh: keeps tunnelled packets under 1500
)

// topology is amt.sh's four namespaces, wired up to (not including) the AMT
// devices. The relay is a multicast router for both families.
type topology struct {
	listener, gateway, relay, source *netns
	mr4, mr6                         *mrouter
}

// all returns the namespaces in amt.sh's order.
func (tp *topology) all() []*netns {
	return []*netns{tp.listener, tp.gateway, tp.relay, tp.source}
}

// newBaseTopology builds amt.sh's setup_interface and setup_sysctl minus the
// amt links, plus the relay's multicast routers (MRT_INIT / MRT6_INIT), with
// no route installed yet. Everything is released in tb.Cleanup.
func newBaseTopology(tb testing.TB) *topology {
	tb.Helper()
	tp := &topology{}
	for _, r := range []struct {
		dst  **netns
		role string
	}{{&tp.listener, "listener"}, {&tp.gateway, "gateway"}, {&tp.relay, "relay"}, {&tp.source, "source"}} {
		f := testenv.NewNetNS(tb) // lo is up; the file is closed in Cleanup
		n, err := openNetNS(r.role, f)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { n.Close() })
		*r.dst = n
	}
	if err := tp.wire(); err != nil {
		tb.Fatalf("building amt.sh topology (%s %s %s %s): %v", tp.listener, tp.gateway, tp.relay, tp.source, err)
	}
	var err error
	if tp.mr4, err = newMrouter(tp.relay, false); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tp.mr4.Close() })
	if tp.mr6, err = newMrouter(tp.relay, true); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tp.mr6.Close() })
	return tp
}

// wire creates links, addresses, routes, the gateway's bridge and sysctls.
func (tp *topology) wire() error {
	L, G, R, S := tp.listener, tp.gateway, tp.relay, tp.source
	var errs []error
	do := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Devices arriving in a namespace take its "default" IPv6 settings:
	// no duplicate address detection for the link-local addresses either,
	// so MLD reports leave at once from a usable source address.
	for _, n := range tp.all() {
		do(n.writeSysctl("net.ipv6.conf.default.accept_dad", "0"))
		do(n.writeSysctl("net.ipv6.conf.all.accept_dad", "0"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Each veth is created in one end's namespace with its peer placed
	// straight into the other's: nothing ever appears in ours.
	do(L.addVeth("l_gw", G, "gw_l"))
	do(G.addVeth("gw_relay", R, "relay_gw"))
	do(R.addVeth("relay_src", S, "src_relay"))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	do(S.setMTU("src_relay", srcMTU))
	do(L.up("l_gw"))
	do(G.up("gw_l", "gw_relay"))
	do(R.up("relay_gw", "relay_src"))
	do(S.up("src_relay"))

	do(L.addAddr("l_gw", listenerV4))
	do(L.addDefaultRoute(gwLanV4.Addr(), "l_gw"))
	do(L.addAddr("l_gw", listenerV6))
	do(L.addDefaultRoute(gwLanV6.Addr(), "l_gw"))

	do(G.addAddr("gw_l", gwLanV4))
	do(G.addAddr("gw_l", gwLanV6))
	do(G.addAddr("gw_relay", gwUpV4))
	do(G.addBridge("br0"))
	do(G.up("br0"))
	do(G.setMaster("gw_l", "br0"))

	do(R.addAddr("relay_gw", relayUpV4))
	do(R.addAddr("relay_src", relaySrcV4))
	do(R.addAddr("relay_src", relaySrcV6))

	do(S.addAddr("src_relay", sourceV4))
	do(S.addAddr("src_relay", sourceV6))
	do(S.addDefaultRoute(relaySrcV4.Addr(), "src_relay"))
	do(S.addDefaultRoute(relaySrcV6.Addr(), "src_relay"))

	// setup_sysctl, plus IPv6 forwarding on the relay.
	do(R.writeSysctl("net.ipv4.ip_forward", "1"))
	do(R.writeSysctl("net.ipv6.conf.all.forwarding", "1"))
	return errors.Join(errs...)
}

// String names the namespaces, for failure messages.
func (tp *topology) String() string {
	return fmt.Sprintf("listener=%s gateway=%s relay=%s source=%s", tp.listener, tp.gateway, tp.relay, tp.source)
}
