//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The stress case: several gateways join and leave many (S,G) channels
// behind one relay while their tunnels are torn down under them.

const (
	stressGateways = 3
	stressGroups   = 50 // per gateway and IP version
	// stressChurn is how long the joins and leaves go on.
	stressChurn = 7 * time.Second
	// stressTeardownPause is the pause after each teardown (a gateway
	// deleted and re-created, or the relay taken down and up, each of
	// which takes a while itself under TCG) before the next.
	stressTeardownPause = 500 * time.Millisecond
	// stressReportInterval (ms) is the gateways' unsolicited report
	// interval for IGMPv3 and MLDv2: each join and leave is retransmitted
	// (robustness variable stressQRV times for IGMPv3, the default 2 for
	// MLDv2, whose net.ipv6.mld_qrv exists in the initial namespace only)
	// at this pace instead of about once a second, so the report timers
	// keep firing during teardowns.
	stressReportInterval = "10"
	stressQRV            = "3"
)

var (
	stressRelayV4 = netip.MustParsePrefix("10.0.0.2/24")
	stressSrcs4   = []netip.Addr{netip.MustParseAddr("172.17.0.2"), netip.MustParseAddr("172.17.0.3")}
	stressSrcs6   = []netip.Addr{netip.MustParseAddr("2001:db8:3::2"), netip.MustParseAddr("2001:db8:3::3")}
)

// stressGroup is the group of gateway k's g-th channel: 232.3.k.g, or
// ff3e::3:k:g for IPv6 (both in their SSM ranges).
func stressGroup(v6 bool, k, g int) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x3e, 11: 3, 13: byte(k), 15: byte(g)})
	}
	return netip.AddrFrom4([4]byte{232, 3, byte(k), byte(g)})
}

// stressGateway is one gateway namespace: amtg on gw_relay, whose veth peer
// is a port of the relay's br_up.
type stressGateway struct {
	ns    *netns
	c     *amtlink.Client
	local netip.Addr
}

type stressSuite struct {
	relay *netns
	rl    *amtlink.Client
	gws   []*stressGateway
	kmsg  *kmsgReader
}

func setupStress(t *testing.T) *stressSuite {
	requireAMT(t)
	k, err := openKmsg()
	if err != nil {
		t.Fatalf("kernel log: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	s := &stressSuite{kmsg: k}
	rns, err := openNetNS("relay", testenv.NewNetNS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rns.Close() })
	s.relay, s.rl = rns, dialAMT(t, rns)
	var errs []error
	do := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// The relay's group timer is GMI = qrv × 125 s + 10 s (amt_gmi;
	// amt.c fixes qi at AMT_INIT_QUERY_INTERVAL and takes qrv from
	// net.ipv4.igmp_qrv when amtr is created): 1 makes it the shortest
	// the driver allows, 135 s, still far beyond the case.
	do(rns.writeSysctl("net.ipv4.igmp_qrv", "1"))
	do(rns.addBridge("br_up"))
	do(rns.up("br_up"))
	do(rns.addAddr("br_up", stressRelayV4))
	for i := range stressGateways {
		gns, err := openNetNS(fmt.Sprintf("gateway%d", i), testenv.NewNetNS(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gns.Close() })
		g := &stressGateway{ns: gns, c: dialAMT(t, gns), local: netip.AddrFrom4([4]byte{10, 0, 0, byte(11 + i)})}
		s.gws = append(s.gws, g)
		port := fmt.Sprintf("relay_gw%d", i)
		for _, kv := range [][2]string{
			{"net.ipv6.conf.default.accept_dad", "0"},
			{"net.ipv6.conf.all.accept_dad", "0"},
			{"net.ipv4.igmp_max_memberships", "1000"},
			{"net.ipv4.igmp_qrv", stressQRV},
			{"net.ipv4.conf.default.igmpv3_unsolicited_report_interval", stressReportInterval},
			{"net.ipv6.conf.default.mldv2_unsolicited_report_interval", stressReportInterval},
		} {
			do(gns.writeSysctl(kv[0], kv[1]))
		}
		do(gns.addVeth("gw_relay", rns, port))
		do(gns.up("gw_relay"))
		do(gns.addAddr("gw_relay", netip.PrefixFrom(g.local, 24)))
		do(rns.setMaster(port, "br_up"))
		do(rns.up(port))
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := s.createRelay(); err != nil {
		t.Fatal(err)
	}
	for _, g := range s.gws {
		if err := g.create(); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range s.gws {
		if err := g.waitRelay(discoveryWait); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *stressSuite) createRelay() error {
	return s.rl.Add(amtlink.Spec{Name: relayDev, Dev: "br_up", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: stressRelayV4.Addr(), RelayPort: ifla.Ptr(ifla.DefaultPort),
		MaxTunnels: ifla.Ptr(uint32(16)),
	}})
}

// create makes the gateway's amtg, up, on gw_relay.
func (g *stressGateway) create() error {
	err := g.c.Add(amtlink.Spec{Name: gatewayDev, Dev: "gw_relay", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeGateway), Local: g.local, Discovery: stressRelayV4.Addr(),
		GatewayPort: ifla.Ptr(ifla.DefaultPort), RelayPort: ifla.Ptr(ifla.DefaultPort),
	}})
	if err != nil {
		return fmt.Errorf("%s: %w", g.ns, err)
	}
	return nil
}

// waitRelay polls amtg until it reports the relay as its remote.
func (g *stressGateway) waitRelay(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		l, err := g.c.Get(gatewayDev)
		if err == nil && l.AMT.Remote == stressRelayV4.Addr() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s never reported relay %s as its remote within %v (last: %v)", g.ns, gatewayDev,
				stressRelayV4.Addr(), timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationAMTStress(t *testing.T) {
	runSuite(t, setupStress,
		suiteCase[*stressSuite]{"many (S,G) joins and leaves while tunnels are torn down", testStressChurn},
	)
}

// stressCounts is what the churn did, for the log and the checks.
type stressCounts struct {
	joins, leaves, failed, rounds atomic.Int64
}

// testStressChurn has every gateway's host join and leave stressGroups
// IGMPv3 and stressGroups MLDv2 (S,G) channels on amtg, round after round
// (join (S1,G) for each, (S2,G) for every other one, leave S1 of every
// third, then close the socket, which leaves the rest at once), while one
// gateway after another is deleted and re-created (its tunnel and
// memberships torn down under the reports) or, every third time, the relay
// goes down and up (amt_dev_stop clears every tunnel with its groups and
// sources, their timers pending), stressTeardownPause apart. The gateways'
// report retransmission timers fire all along; the relay's group and source
// timers cannot expire within the case (GMI is at least 135 s, see
// setupStress), so its teardowns are what deletes them. A tap on the
// relay's underlay counts the Membership Updates that reached it, so the
// case knows the churn was real. Afterwards the kernel log must have no
// WARNING, BUG, list corruption or refcount error.
func testStressChurn(t *testing.T, s *stressSuite) {
	tp, err := newTap(s.relay, "br_up")
	if err != nil {
		t.Fatal(err)
	}
	var updates4, updates6 atomic.Int64
	tapDone := make(chan struct{})
	stopTap := make(chan struct{})
	go func() {
		defer close(tapDone)
		for {
			select {
			case <-stopTap:
				return
			default:
			}
			b, err := tp.nextRaw(time.Now().Add(200 * time.Millisecond))
			if err != nil {
				if isTimeout(err) {
					continue
				}
				return
			}
			if m, ok := parseMembershipUpdate(b); ok {
				switch m.typ {
				case igmpV3Report:
					updates4.Add(1)
				case mldV2Report:
					updates6.Add(1)
				}
			}
		}
	}()
	defer func() { close(stopTap); <-tapDone; tp.Close() }()

	var counts stressCounts
	deadline := time.Now().Add(stressChurn)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for k, g := range s.gws {
		for _, v6 := range []bool{false, true} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := g.churn(k, v6, deadline, &counts); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
				}
			}()
		}
	}
	var recreated, relayBounced int
	for i := 0; ; i++ {
		next := time.Now().Add(stressTeardownPause)
		if next.After(deadline) {
			break
		}
		time.Sleep(time.Until(next))
		if i%3 == 2 {
			if _, err := s.rl.Set(relayDev, amtlink.Change{Up: ifla.Ptr(false)}); err != nil {
				t.Errorf("relay down: %v", err)
			}
			if _, err := s.rl.Set(relayDev, amtlink.Change{Up: ifla.Ptr(true)}); err != nil {
				t.Errorf("relay up: %v", err)
			}
			relayBounced++
			continue
		}
		g := s.gws[i%len(s.gws)]
		if err := g.c.Delete(gatewayDev); err != nil {
			t.Errorf("%s: %v", g.ns, err)
		}
		if err := g.create(); err != nil {
			t.Errorf("re-creating the gateway: %v", err)
		}
		recreated++
	}
	wg.Wait()
	if firstErr != nil {
		t.Error(firstErr)
	}
	// A family whose updates the tap has not seen yet (on a loaded TCG
	// host the gateways may spend the whole churn rediscovering the relay)
	// churns on, on the first gateway, for up to 10 s more: the case is
	// about reports reaching the relay while things are torn down, so it
	// waits for them rather than giving up.
	for _, fam := range []struct {
		v6 bool
		n  *atomic.Int64
	}{{false, &updates4}, {true, &updates6}} {
		for more := time.Now().Add(10 * time.Second); fam.n.Load() == 0 && time.Now().Before(more); {
			if err := s.gws[0].churn(0, fam.v6, time.Now().Add(time.Second), &counts); err != nil {
				t.Error(err)
				break
			}
		}
	}
	// Let the last reports' retransmissions and the teardowns' work
	// items run before the log is read.
	time.Sleep(time.Second)
	lines, err := s.kmsg.read()
	if err != nil {
		t.Fatalf("reading the kernel log: %v", err)
	}
	bad := troubleLines(lines)
	t.Logf("%d gateways × %d groups × IGMPv3 and MLDv2 for %v: %d rounds, %d (S,G) joins, %d source leaves, %d failed (on a gateway "+
		"being re-created); %d gateway re-creations, %d relay down/up; the relay received %d Membership Updates with IGMPv3 "+
		"and %d with MLDv2 reports; kernel log: %d new lines, %d with trouble",
		len(s.gws), stressGroups, stressChurn, counts.rounds.Load(), counts.joins.Load(), counts.leaves.Load(), counts.failed.Load(),
		recreated, relayBounced, updates4.Load(), updates6.Load(), len(lines), len(bad))
	if len(bad) > 0 {
		t.Errorf("the kernel logged trouble during the churn (%d lines):\n%s", len(bad), strings.Join(bad, "\n"))
	}
	if counts.rounds.Load() < int64(2*len(s.gws)) || counts.joins.Load() == 0 {
		t.Errorf("the churn hardly ran: %d rounds and %d joins for %d workers", counts.rounds.Load(), counts.joins.Load(), 2*len(s.gws))
	}
	if updates4.Load() == 0 || updates6.Load() == 0 {
		t.Errorf("the relay's underlay saw %d IGMPv3 and %d MLDv2 Membership Updates: the churn never reached the relay",
			updates4.Load(), updates6.Load())
	}
}

// churn runs one worker's rounds until deadline: a socket in the gateway's
// namespace joins (S1,G), and (S2,G) for every other group, for
// stressGroups groups on amtg, leaves S1 of every third, and is closed.
// Errors from a gateway being re-created at that moment (its amtg gone or
// new) are counted, not returned; anything else ends the worker.
func (g *stressGateway) churn(k int, v6 bool, deadline time.Time, c *stressCounts) error {
	srcs := stressSrcs4
	bind := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if v6 {
		srcs, bind = stressSrcs6, netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	}
	for time.Now().Before(deadline) {
		ifi, err := g.ns.iface(gatewayDev)
		if err != nil {
			c.failed.Add(1)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		conn, err := listenUDP(g.ns, bind)
		if err != nil {
			return err
		}
		join, leave := ssmOps(conn, v6)
		for gi := range stressGroups {
			grp := &net.UDPAddr{IP: stressGroup(v6, k, gi).AsSlice()}
			for si, src := range srcs {
				if si > 0 && gi%2 == 1 {
					break
				}
				if err := join(ifi, grp, &net.UDPAddr{IP: src.AsSlice()}); err != nil {
					c.failed.Add(1)
				} else {
					c.joins.Add(1)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
		for gi := 0; gi < stressGroups; gi += 3 {
			grp := &net.UDPAddr{IP: stressGroup(v6, k, gi).AsSlice()}
			if err := leave(ifi, grp, &net.UDPAddr{IP: srcs[0].AsSlice()}); err != nil {
				c.failed.Add(1)
			} else {
				c.leaves.Add(1)
			}
		}
		conn.Close()
		c.rounds.Add(1)
	}
	return nil
}

// ssmOps returns conn's source-specific join and leave for its IP version.
func ssmOps(conn *net.UDPConn, v6 bool) (join, leave func(*net.Interface, net.Addr, net.Addr) error) {
	if v6 {
		p := ipv6.NewPacketConn(conn)
		return p.JoinSourceSpecificGroup, p.LeaveSourceSpecificGroup
	}
	p := ipv4.NewPacketConn(conn)
	return p.JoinSourceSpecificGroup, p.LeaveSourceSpecificGroup
}
