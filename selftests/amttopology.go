//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// amt.sh's AMT devices.
const (
	gatewayDev    = "amtg"
	relayDev      = "amtr"
	relayMaxTuns  = 4 // amt.sh: max_tunnels 4
	discoveryWait = 20 * time.Second
)

// amtTopology is amt.sh's topology with its two AMT links: amtg, a gateway
// in br0 tunnelling over gw_relay, and amtr, a relay on relay_gw to which
// the relay routes (172.17.0.2, 239.0.0.1) and (2001:db8:3::2, ff0e::5:6)
// from relay_src, as amt.sh's smcroute lines do.
type amtTopology struct {
	*topology
	gw, rl     *amtlink.Client // dialled into the gateway and the relay
	relayLower string          // amtr's lower device: relay_gw, or br_up with two gateways

	// With amtOptions.twoGateways: a second listener and gateway, built like
	// the first, whose gw_relay (10.0.0.3) reaches the relay through br_up.
	listener2, gateway2 *netns
	gw2                 *amtlink.Client
}

// amtOptions varies the topology for cases beyond amt.sh.
type amtOptions struct {
	maxTunnels  uint32 // relay's max_tunnels; 0 means amt.sh's 4
	twoGateways bool   // add listener2/gateway2 behind the same relay
}

var gw2UpV4 = netip.MustParsePrefix("10.0.0.3/24") // gateway2's gw_relay

// newAMTTopology builds amt.sh's setup_interface, setup_sysctl and
// setup_mcast_routing. It skips without root or without the AMT driver
// (fails instead under AMTCTL_REQUIRE_KERNEL=1).
func newAMTTopology(tb testing.TB, o amtOptions) *amtTopology {
	tb.Helper()
	testenv.RequireAMT(tb)
	tb.Logf("kernel %s", testenv.KernelRelease())
	at := &amtTopology{topology: newBaseTopology(tb), relayLower: "relay_gw"}
	at.gw = dialAMT(tb, at.gateway)
	at.rl = dialAMT(tb, at.relay)
	if o.twoGateways {
		at.addSecondGateway(tb)
	}
	if o.maxTunnels == 0 {
		o.maxTunnels = relayMaxTuns
	}
	if err := at.createRelay(o.maxTunnels); err != nil {
		tb.Fatal(err)
	}
	if err := createGateway(at.gw, at.gateway, gwUpV4.Addr()); err != nil {
		tb.Fatal(err)
	}
	for _, err := range []error{
		at.mr4.route(sourceV4.Addr(), group4, "relay_src", relayDev),
		at.mr6.route(sourceV6.Addr(), group6, "relay_src", relayDev),
		// amt.sh brings amtr up before amtg, so the gateway's first
		// discovery finds a relay listening.
		at.relay.up(relayDev),
		at.gateway.up(gatewayDev),
	} {
		if err != nil {
			tb.Fatalf("%v (%s)", err, at)
		}
	}
	if o.twoGateways {
		if err := createGateway(at.gw2, at.gateway2, gw2UpV4.Addr()); err != nil {
			tb.Fatal(err)
		}
		if err := at.gateway2.up(gatewayDev); err != nil {
			tb.Fatal(err)
		}
	}
	return at
}

// dialAMT dials an amtlink client into ns, closed in Cleanup.
func dialAMT(tb testing.TB, ns *netns) *amtlink.Client {
	tb.Helper()
	c, err := amtlink.Dial(amtlink.NetNSFromFD(ns.fd))
	if err != nil {
		tb.Fatalf("%s: %v", ns, err)
	}
	tb.Cleanup(func() { c.Close() })
	onSignal(c)
	return c
}

// addSecondGateway adds listener2 and gateway2, wired like the first pair,
// and turns the relay's underlay into a bridge, br_up, holding relay_gw and
// relay_gw2 with 10.0.0.2, so that amtr reaches both gateways through one
// lower device (amt.c sends every tunnel's packets out of that device).
func (at *amtTopology) addSecondGateway(tb testing.TB) {
	tb.Helper()
	for _, r := range []struct {
		dst  **netns
		role string
	}{{&at.listener2, "listener2"}, {&at.gateway2, "gateway2"}} {
		n, err := openNetNS(r.role, testenv.NewNetNS(tb))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { n.Close() })
		*r.dst = n
	}
	at.gw2 = dialAMT(tb, at.gateway2)
	L2, G2, R := at.listener2, at.gateway2, at.relay
	var errs []error
	do := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range []*netns{L2, G2} {
		do(n.writeSysctl("net.ipv6.conf.default.accept_dad", "0"))
		do(n.writeSysctl("net.ipv6.conf.all.accept_dad", "0"))
	}
	do(L2.addVeth("l_gw", G2, "gw_l"))
	do(G2.addVeth("gw_relay", R, "relay_gw2"))
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("second gateway: %v", err)
	}
	do(L2.up("l_gw"))
	do(L2.addAddr("l_gw", listenerV4))
	do(L2.addAddr("l_gw", listenerV6))
	do(G2.up("gw_l", "gw_relay"))
	do(G2.addAddr("gw_relay", gw2UpV4))
	do(G2.addBridge("br0"))
	do(G2.up("br0"))
	do(G2.setMaster("gw_l", "br0"))
	do(R.addBridge("br_up"))
	do(R.delAddr("relay_gw", relayUpV4))
	do(R.setMaster("relay_gw", "br_up"))
	do(R.setMaster("relay_gw2", "br_up"))
	do(R.up("br_up", "relay_gw2"))
	do(R.addAddr("br_up", relayUpV4))
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("second gateway: %v", err)
	}
	at.relayLower = "br_up"
}

// createRelay creates amtr as amt.sh does:
// ip link add amtr type amt mode relay local 10.0.0.2 dev relay_gw relay_port 2268 max_tunnels 4
func (at *amtTopology) createRelay(maxTunnels uint32) error {
	_, err := at.rl.Create(amtlink.Spec{
		Name: relayDev,
		Dev:  at.relayLower,
		AMT: ifla.AMT{
			Mode:       ifla.Ptr(ifla.ModeRelay),
			Local:      relayUpV4.Addr(),
			RelayPort:  ifla.Ptr(ifla.DefaultPort),
			MaxTunnels: ifla.Ptr(maxTunnels),
		},
	})
	if err != nil {
		return fmt.Errorf("%s: %w", at.relay, err)
	}
	return nil
}

// createGateway creates amtg in ns as amt.sh does:
// ip link add amtg master br0 type amt mode gateway local 10.0.0.1 discovery 10.0.0.2 dev gw_relay gateway_port 2268 relay_port 2268
func createGateway(c *amtlink.Client, ns *netns, local netip.Addr) error {
	_, err := c.Create(amtlink.Spec{
		Name:   gatewayDev,
		Dev:    "gw_relay",
		Master: "br0",
		AMT: ifla.AMT{
			Mode:        ifla.Ptr(ifla.ModeGateway),
			Local:       local,
			Discovery:   relayUpV4.Addr(),
			GatewayPort: ifla.Ptr(ifla.DefaultPort),
			RelayPort:   ifla.Ptr(ifla.DefaultPort),
		},
	})
	if err != nil {
		return fmt.Errorf("%s: %w", ns, err)
	}
	return nil
}

// waitDiscovered polls the gateway's link until the kernel reports the relay
// as its remote (IFLA_AMT_REMOTE_IP, set when an advertisement answers the
// gateway's discovery), or fails after timeout saying what it last saw.
func (at *amtTopology) waitDiscovered(tb testing.TB, c *amtlink.Client, dev string, want netip.Addr, timeout time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for {
		l, err := c.Get(dev)
		switch {
		case err != nil:
			last = err.Error()
		case l.AMT.Remote == want:
			took := time.Since(start)
			tb.Logf("%s discovered relay %s after %v", dev, want, took.Round(time.Millisecond))
			return took
		case l.AMT.Remote.IsValid():
			last = fmt.Sprintf("remote %s", l.AMT.Remote)
		default:
			last = "no remote (IFLA_AMT_REMOTE_IP absent)"
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gateway %s never reported relay %s as its remote within %v; last seen: %s; %s",
				dev, want, timeout, last, at.diag())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diag summarises what the AMT devices have counted, for failure messages.
func (at *amtTopology) diag() string {
	var parts []string
	if l, err := at.gw.Get(gatewayDev); err == nil {
		s := fmt.Sprintf("gateway %s: up=%v remote=%v", gatewayDev, l.Up(), l.AMT.Remote)
		if l.Stats != nil {
			s += fmt.Sprintf(" rx=%d tx=%d rx_dropped=%d tx_dropped=%d tx_errors=%d",
				l.Stats.RXPackets, l.Stats.TXPackets, l.Stats.RXDropped, l.Stats.TXDropped, l.Stats.TXErrors)
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, fmt.Sprintf("gateway %s: %v", gatewayDev, err))
	}
	if l, err := at.rl.Get(relayDev); err == nil {
		s := fmt.Sprintf("relay %s: up=%v", relayDev, l.Up())
		if l.Stats != nil {
			s += fmt.Sprintf(" rx=%d tx=%d rx_dropped=%d tx_dropped=%d tx_errors=%d",
				l.Stats.RXPackets, l.Stats.TXPackets, l.Stats.RXDropped, l.Stats.TXDropped, l.Stats.TXErrors)
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, fmt.Sprintf("relay %s: %v", relayDev, err))
	}
	if s, err := at.relay.linkStats("relay_src"); err == nil {
		parts = append(parts, fmt.Sprintf("relay_src rx=%d", s.RXPackets))
	}
	return strings.Join(parts, "; ")
}
