package selftests

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Cases beyond amt.sh about group membership: each IGMP/MLD version the
// listener can speak, source-specific joins, and leaving. Each case has its
// own groups, so no case sees another's state in the relay.

// Known driver issues the membership cases run into (drivers/net/amt.c as of
// v6.1 to v6.12 and mainline).
const (
	issueGatewayDropsIGMPv2 knownIssue = "the gateway forwards IGMPv1 (0x12) and IGMPv3 (0x22) reports to the relay " +
		"but drops IGMPv2 reports (0x16) and leaves (0x17): amt_dev_xmit's gateway switch has no case for them, " +
		"so an IGMPv2 listener is never served"
	issueRelayIgnoresSources knownIssue = "the relay tunnels data to every gateway that joined the group, whatever the " +
		"sources it asked for: amt_dev_xmit (relay) matches tunnel->groups by group address only, never the " +
		"source list amt_mcast_*_handler keep"
	issueNoLeaveProcessing knownIssue = "leaving a group does not stop the relay: it sends no group-specific query " +
		"and keeps the group until its timer (GMI, minutes) runs out; for MLDv1 the Done message is dropped by the " +
		"gateway (no ICMPV6_MGM_REDUCTION case in amt_dev_xmit) and amt_mldv1_leave_handler would look the host up " +
		"by an IPv4 header field anyway"
)

// Groups of the membership cases; the relay routes each from the sources
// listed in setupMembership into amtr.
var (
	grpIGMPv2         = []netip.Addr{netip.MustParseAddr("239.1.1.2"), netip.MustParseAddr("239.1.1.12"), netip.MustParseAddr("239.1.1.22")}
	grpIGMPv3         = netip.MustParseAddr("232.1.1.3")
	grpLeave4         = netip.MustParseAddr("239.1.1.4")
	grpMarker4        = netip.MustParseAddr("239.1.1.5")
	grpMLDv1          = []netip.Addr{netip.MustParseAddr("ff0e::1:6"), netip.MustParseAddr("ff0e::1:16"), netip.MustParseAddr("ff0e::1:26")}
	grpMLDv2          = netip.MustParseAddr("ff0e::1:7")
	grpLeave6         = netip.MustParseAddr("ff0e::1:8")
	grpMarker6        = netip.MustParseAddr("ff0e::1:9")
	leaveBound        = 15 * time.Second // several of amt.c's request/query cycles (2 s each at start-up)
	tunnelRound       = 5 * time.Second  // how long one marker may take through the tunnel
	oldVersionTimeout = 15 * time.Second
)

type mcastSuite struct {
	*amtTopology
}

func setupMembership(t *testing.T) *mcastSuite {
	requireAMT(t)
	s := &mcastSuite{amtTopology: newAMTTopology(t, amtOptions{})}
	S1, S2 := sourceV4.Addr(), sourceV4b.Addr()
	S1v6, S2v6 := sourceV6.Addr(), sourceV6b.Addr()
	for _, err := range []error{
		s.source.addAddr("src_relay", sourceV4b),
		s.source.addAddr("src_relay", sourceV6b),
		s.mr4.route(S1, grpIGMPv2[0], "relay_src", relayDev),
		s.mr4.route(S1, grpIGMPv2[1], "relay_src", relayDev),
		s.mr4.route(S1, grpIGMPv2[2], "relay_src", relayDev),
		s.mr4.route(S1, grpIGMPv3, "relay_src", relayDev),
		s.mr4.route(S2, grpIGMPv3, "relay_src", relayDev),
		s.mr4.route(S1, grpLeave4, "relay_src", relayDev),
		s.mr4.route(S1, grpMarker4, "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[0], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[1], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[2], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv2, "relay_src", relayDev),
		s.mr6.route(S2v6, grpMLDv2, "relay_src", relayDev),
		s.mr6.route(S1v6, grpLeave6, "relay_src", relayDev),
		s.mr6.route(S1v6, grpMarker6, "relay_src", relayDev),
	} {
		if err != nil {
			t.Fatalf("%v (%s)", err, s)
		}
	}
	s.waitDiscovered(t, s.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
	return s
}

func TestIntegrationAMTMembership(t *testing.T) {
	runSuite(t, setupMembership,
		suiteCase[*mcastSuite]{"IGMPv2 any-source join", testIGMPv2Join},
		suiteCase[*mcastSuite]{"IGMPv3 source-specific join", testIGMPv3SSM},
		suiteCase[*mcastSuite]{"IGMPv3 relay tunnels only joined sources", testIGMPv3RelayFilter},
		suiteCase[*mcastSuite]{"MLDv1 any-source join", testMLDv1Join},
		suiteCase[*mcastSuite]{"MLDv2 source-specific join", testMLDv2SSM},
		suiteCase[*mcastSuite]{"MLDv2 relay tunnels only joined sources", testMLDv2RelayFilter},
		suiteCase[*mcastSuite]{"IGMPv3 leave stops tunnelled data", testLeave4},
		suiteCase[*mcastSuite]{"MLDv2 leave stops tunnelled data", testLeave6},
	)
}

// forceVersion sets the listener's force_igmp_version (v6 false) or
// force_mld_version on l_gw for the rest of the case.
func (s *mcastSuite) forceVersion(t *testing.T, v6 bool, version string) {
	t.Helper()
	key := "net.ipv4.conf.l_gw.force_igmp_version"
	if v6 {
		key = "net.ipv6.conf.l_gw.force_mld_version"
	}
	if err := s.listener.writeSysctl(key, version); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.listener.writeSysctl(key, "0"); err != nil {
			t.Error(err)
		}
	})
}

// igmpVersion returns the IGMP version the listener uses on dev, as
// /proc/net/igmp shows it ("V1", "V2", "V3").
func (s *mcastSuite) igmpVersion(t *testing.T, dev string) string {
	t.Helper()
	var b []byte
	err := s.listener.Do(func() error {
		var err error
		// /proc/net is the main thread's view; thread-self is this thread's.
		b, err = os.ReadFile("/proc/thread-self/net/igmp")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// "2	l_gw      :     2      V2"
		if len(f) >= 5 && f[1] == dev && f[2] == ":" {
			return f[4]
		}
	}
	t.Fatalf("%s: /proc/net/igmp has no line for %s:\n%s", s.listener, dev, b)
	return ""
}

// join opens a receiver for group:port on l_gw (source-specific when
// sources are given) and a sender from src.
func (s *mcastSuite) pair(t *testing.T, src, group netip.Addr, port uint16, sources ...netip.Addr) (*sender, *receiver) {
	t.Helper()
	dst := netip.AddrPortFrom(group, port)
	rcv := openReceiver(t, s.listener, "l_gw", dst, sources...)
	snd := openSender(t, s.source, src, "src_relay", dst)
	return snd, rcv
}

// testIGMPv2Join joins with IGMPv2 and expects data. Meanwhile a tap on the
// gateway's gw_l records which reports the listener really sent for the
// group, so that the verdict rests on IGMPv2 reports alone.
//
// The listener can still send one IGMPv3 report after force_igmp_version=2:
// a relay query that arrived just before the switch arms the general-query
// response timer, and when it fires (within the query's 100 ms maximum
// response time) net/ipv4/igmp.c igmp_gq_timer_expire sends a v3 report of
// every group, without looking at the forced version. If that report
// carried the group, the attempt proves nothing about IGMPv2 (the relay now
// holds the group for minutes), and the case starts over with a fresh group.
func testIGMPv2Join(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueGatewayDropsIGMPv2)
	s.forceVersion(t, false, "2")
	if v := s.igmpVersion(t, "l_gw"); v != "V2" {
		t.Fatalf("the listener speaks IGMP %s on l_gw despite force_igmp_version=2", v)
	}
	for _, group := range grpIGMPv2 {
		v2, v3, derr := s.oldVersionAttempt(t, group, 4102)
		t.Logf("%s: IGMPv2 reports %d, IGMPv3 reports naming it %d", group, v2, v3)
		switch {
		case v3 > 0:
			t.Logf("%s: the listener also reported it with IGMPv3 (a general-query timer armed before the switch to IGMPv2); trying a fresh group", group)
			continue
		case v2 == 0:
			t.Fatalf("the listener sent no IGMPv2 report for %s that the gateway saw; data: %v", group, derr)
		case derr != nil:
			xfail(t, issueGatewayDropsIGMPv2, fmt.Errorf("%d IGMPv2 reports for %s reached the gateway, yet: %w", v2, group, derr))
		}
		return
	}
	t.Fatalf("every attempt (%v) was spoiled by an IGMPv3 report from the listener", grpIGMPv2)
}

// oldVersionAttempt joins group from the listener, waits for data, and
// counts, as the gateway's gw_l saw them, the listener's reports for group
// in the old protocol version (IGMPv2 0x16, or MLDv1 131 for IPv6) and its
// reports in the new one naming group (IGMPv3 0x22, MLDv2 143).
func (s *mcastSuite) oldVersionAttempt(t *testing.T, group netip.Addr, port uint16) (old, cur int, derr error) {
	t.Helper()
	lanTap, err := newTap(s.gateway, "gw_l")
	if err != nil {
		t.Fatal(err)
	}
	defer lanTap.Close()
	src, from := sourceV4.Addr(), listenerV4.Addr()
	if group.Is6() {
		src = sourceV6.Addr()
	}
	snd, rcv := s.pair(t, src, group, port)
	// Shorter than deliveryTimeout: the reports are judged, and a working
	// path delivers within one request/query cycle of about 2 s.
	_, derr = deliver(t, snd, rcv, oldVersionTimeout, s.diag)
	for {
		b, err := lanTap.nextRaw(time.Now().Add(20 * time.Millisecond))
		if err != nil {
			return old, cur, derr // drained
		}
		m, ok := parseMembership(b)
		if !ok || (m.src != from && !m.src.IsLinkLocalUnicast()) {
			continue
		}
		switch {
		case (m.typ == igmpV2Report || m.typ == mldV1Report) && m.group == group:
			old++
		case (m.typ == igmpV3Report || m.typ == mldV2Report) && slices.Contains(m.records, group):
			cur++
		}
	}
}

func testIGMPv3SSM(t *testing.T, s *mcastSuite) {
	s.forceVersion(t, false, "3")
	good, rcv := s.pair(t, sourceV4.Addr(), grpIGMPv3, 4103, sourceV4.Addr())
	bad := openSender(t, s.source, sourceV4b.Addr(), "src_relay", netip.AddrPortFrom(grpIGMPv3, 4103))
	if v := s.igmpVersion(t, "l_gw"); v != "V3" {
		t.Fatalf("the listener speaks IGMP %s on l_gw despite force_igmp_version=3", v)
	}
	expectDelivery(t, good, rcv, deliveryTimeout, s.diag)
	expectSilence(t, bad, good, rcv, 20, deliveryTimeout)
}

func testIGMPv3RelayFilter(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueRelayIgnoresSources)
	s.forceVersion(t, false, "3")
	s.relayFilter(t, sourceV4.Addr(), sourceV4b.Addr(), grpIGMPv3, 4113)
}

// testMLDv1Join is testIGMPv2Join for MLDv1, with the same guard: a
// general-query response timer armed before force_mld_version=1 can send
// one MLDv2 report (net/ipv6/mcast.c mld_gq_work), and an attempt whose
// group it named starts over with a fresh group.
func testMLDv1Join(t *testing.T, s *mcastSuite) {
	s.forceVersion(t, true, "1")
	for _, group := range grpMLDv1 {
		v1, v2, derr := s.oldVersionAttempt(t, group, 6106)
		t.Logf("%s: MLDv1 reports %d, MLDv2 reports naming it %d", group, v1, v2)
		switch {
		case v2 > 0:
			t.Logf("%s: the listener also reported it with MLDv2 (a general-query timer armed before the switch to MLDv1); trying a fresh group", group)
			continue
		case v1 == 0:
			t.Fatalf("the listener sent no MLDv1 report for %s that the gateway saw; data: %v", group, derr)
		case derr != nil:
			t.Fatalf("%d MLDv1 reports for %s reached the gateway, yet: %v", v1, group, derr)
		}
		return
	}
	t.Fatalf("every attempt (%v) was spoiled by an MLDv2 report from the listener", grpMLDv1)
}

func testMLDv2SSM(t *testing.T, s *mcastSuite) {
	s.forceVersion(t, true, "2")
	good, rcv := s.pair(t, sourceV6.Addr(), grpMLDv2, 6107, sourceV6.Addr())
	bad := openSender(t, s.source, sourceV6b.Addr(), "src_relay", netip.AddrPortFrom(grpMLDv2, 6107))
	expectDelivery(t, good, rcv, deliveryTimeout, s.diag)
	expectSilence(t, bad, good, rcv, 20, deliveryTimeout)
}

func testMLDv2RelayFilter(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueRelayIgnoresSources)
	s.forceVersion(t, true, "2")
	s.relayFilter(t, sourceV6.Addr(), sourceV6b.Addr(), grpMLDv2, 6117)
}

// relayFilter joins group for source good only, then watches the tunnel on
// the gateway's underlay: datagrams from bad must not be in it. Each round
// sends one datagram from bad, then a marker from good right behind it on
// the same path; once the marker has come through the tunnel, bad's would
// have too.
func (s *mcastSuite) relayFilter(t *testing.T, goodSrc, badSrc, group netip.Addr, port uint16) {
	good, rcv := s.pair(t, goodSrc, group, port, goodSrc)
	bad := openSender(t, s.source, badSrc, "src_relay", netip.AddrPortFrom(group, port))
	expectDelivery(t, good, rcv, deliveryTimeout, s.diag)
	const rounds = 10
	badTag, goodTag := token("unjoined-source"), token("marker")
	leaked := 0
	tp := s.openTunnelTap(t)
	for i := 0; i < rounds; i++ {
		seen, err := s.tunnelRound(t, tp, bad, good, badTag, goodTag)
		if err != nil {
			t.Fatal(err)
		}
		if seen {
			leaked++
		}
	}
	if leaked > 0 {
		xfail(t, issueRelayIgnoresSources, fmt.Errorf(
			"the listener joined (%s, %s) only, yet %d of %d datagrams from %s to %s came through the tunnel (seen on %s's gw_relay)",
			goodSrc, group, leaked, rounds, badSrc, group, s.gateway))
	}
	t.Logf("the relay tunnelled none of %d datagrams from the unjoined source %s", rounds, badSrc)
}

// openTunnelTap opens a tap on the gateway's underlay, gw_relay, where every
// AMT message from the relay arrives; it is closed when the case ends.
func (s *mcastSuite) openTunnelTap(t *testing.T) *tap {
	t.Helper()
	tp, err := newTap(s.gateway, "gw_relay")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}

// tunnelRound sends one datagram from bad and then one marker from good and
// reads the gateway's underlay until the marker has come through the tunnel.
// It reports whether bad's datagram came through before it.
func (s *mcastSuite) tunnelRound(t *testing.T, tp *tap, bad, good *sender, badTag, goodTag []byte) (bool, error) {
	t.Helper()
	if err := bad.send(badTag); err != nil {
		t.Fatal(err)
	}
	if err := good.send(goodTag); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(tunnelRound)
	seen := false
	for {
		p, err := tp.next(deadline)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return seen, fmt.Errorf("the marker from %s to %s did not come through the tunnel within %v: the path broke; %s",
				good.src, good.dst, tunnelRound, s.diag())
		}
		if err != nil {
			return seen, err
		}
		if p.inner == nil {
			continue
		}
		switch {
		case bytes.HasPrefix(p.inner.payload, badTag):
			seen = true
		case bytes.HasPrefix(p.inner.payload, goodTag):
			return seen, nil
		}
	}
}

func testLeave4(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueNoLeaveProcessing)
	s.forceVersion(t, false, "3")
	s.leave(t, sourceV4.Addr(), grpLeave4, grpMarker4, 4104)
}

func testLeave6(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueNoLeaveProcessing)
	s.forceVersion(t, true, "2")
	s.leave(t, sourceV6.Addr(), grpLeave6, grpMarker6, 6104)
}

// leave joins group and a marker group, checks both flow, leaves group and
// then waits, up to leaveBound, for a round in which group's datagram no
// longer comes through the tunnel while the marker group's still does.
func (s *mcastSuite) leave(t *testing.T, src, group, marker netip.Addr, port uint16) {
	snd, rcv := s.pair(t, src, group, port)
	msnd, mrcv := s.pair(t, src, marker, port)
	expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)
	expectDelivery(t, msnd, mrcv, deliveryTimeout, s.diag)
	if err := rcv.leave(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	badTag, goodTag := token("left-group"), token("marker")
	rounds := 0
	tp := s.openTunnelTap(t)
	for time.Since(start) < leaveBound {
		seen, err := s.tunnelRound(t, tp, snd, msnd, badTag, goodTag)
		if err != nil {
			t.Fatal(err)
		}
		rounds++
		if !seen {
			t.Logf("the relay stopped tunnelling %s %v after the listener left (round %d)", group, time.Since(start).Round(time.Millisecond), rounds)
			return
		}
		time.Sleep(sendInterval) // pace the rounds; the outcome never rests on it
	}
	xfail(t, issueNoLeaveProcessing, fmt.Errorf("the relay still tunnelled %s to the gateway %v after the listener left it (%d rounds, every one delivered)",
		group, leaveBound, rounds))
}
