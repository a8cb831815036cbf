//go:build linux

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
// own groups (the source-specific join and relay-filter cases too), so no
// case sees another's state in the relay, nor another's reports on the
// gateway's taps.

// Known driver issues the membership cases run into (drivers/net/amt.c as of
// v6.1 to v6.12 and mainline).
const (
	issueGatewayDropsIGMPv2 knownIssue = "the gateway forwards IGMPv1 (0x12) and IGMPv3 (0x22) reports to the relay " +
		"but drops IGMPv2 reports (0x16) and leaves (0x17): amt_dev_xmit's gateway switch has no case for them, " +
		"so an IGMPv2 listener is never served"
	issueRelayIgnoresSources knownIssue = "the relay tunnels data to every gateway that joined the group, whatever the " +
		"sources it asked for: amt_dev_xmit (relay) matches tunnel->groups by group address only, never the " +
		"source list amt_mcast_*_handler keep"
	issueNoLeaveProcessing knownIssue = "an IGMPv3 / MLDv2 leave (TO_IN({}) or BLOCK) does not stop the relay: " +
		"amt_mcast_to_in_handler and amt_mcast_block_handler send no group-specific query and never shorten the " +
		"group timer, so the relay keeps the group until it runs out (GMI, about 260 s)"
	issueMLDv1Done knownIssue = "an MLDv1 Done does not stop the relay: the gateway drops it (amt_dev_xmit's gateway " +
		"switch passes MLD types 131 and 143 only, no ICMPV6_MGM_REDUCTION), and the relay would not find the group " +
		"anyway (amt_mldv1_leave_handler looks the host up by ip_hdr(skb)->saddr, 4 bytes of the IPv6 header, while " +
		"amt_mldv1_report_handler stored the whole IPv6 source), so the group stays until its timer runs out (GMI)"
	issueGatewayUpdateDropped knownIssue = "the gateway counts every membership report it tunnels to the relay as a " +
		"dropped packet: after amt_send_membership_update succeeds, amt_dev_xmit jumps to the label that increments " +
		"tx_dropped, so the amt link's TX dropped counter grows with each Membership Update sent"
)

// Groups of the membership cases; the relay routes each from the sources
// listed in setupMembership into amtr.
var (
	grpIGMPv2      = []netip.Addr{netip.MustParseAddr("239.1.1.2"), netip.MustParseAddr("239.1.1.12"), netip.MustParseAddr("239.1.1.22")}
	grpIGMPv3      = netip.MustParseAddr("232.1.1.3")
	grpFilter4     = netip.MustParseAddr("232.1.1.13")
	grpLeave4      = netip.MustParseAddr("239.1.1.4")
	grpMarker4     = netip.MustParseAddr("239.1.1.5")
	grpMLDv1       = []netip.Addr{netip.MustParseAddr("ff0e::1:6"), netip.MustParseAddr("ff0e::1:16"), netip.MustParseAddr("ff0e::1:26")}
	grpMLDv2       = netip.MustParseAddr("ff0e::1:7")
	grpFilter6     = netip.MustParseAddr("ff0e::1:17")
	grpLeave6      = netip.MustParseAddr("ff0e::1:8")
	grpMarker6     = netip.MustParseAddr("ff0e::1:9")
	grpUpdateDrops = netip.MustParseAddr("232.1.1.23")
	grpLeaveIGMPv2 = []netip.Addr{netip.MustParseAddr("239.1.1.32"), netip.MustParseAddr("239.1.1.42"), netip.MustParseAddr("239.1.1.52"), netip.MustParseAddr("239.1.1.62")}
	grpLeaveMLDv1  = []netip.Addr{netip.MustParseAddr("ff0e::1:36"), netip.MustParseAddr("ff0e::1:46"), netip.MustParseAddr("ff0e::1:56"), netip.MustParseAddr("ff0e::1:66")}
	// leaveBound is how long a leave may take to stop the tunnelled data:
	// four of amt.c's request/query cycles (about 2 s each; the verdicts
	// count the relay's queries meanwhile), 4.7 times the longest leave
	// seen on a fixed driver under TCG (1.7 s). On a driver with the bug
	// the data never stops, so the case takes the whole bound.
	leaveBound  = 8 * time.Second
	tunnelRound = 5 * time.Second // how long one marker may take through the tunnel
	// oldVersionTimeout bounds an IGMPv2 or MLDv1 join's first datagram:
	// the suite's first case, it may wait for the gateway's first
	// request/query cycles too (a fixed driver took up to 2.3 s under TCG).
	oldVersionTimeout = 10 * time.Second
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
		s.mr4.route(S1, grpFilter4, "relay_src", relayDev),
		s.mr4.route(S2, grpFilter4, "relay_src", relayDev),
		s.mr4.route(S1, grpLeave4, "relay_src", relayDev),
		s.mr4.route(S1, grpMarker4, "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[0], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[1], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv1[2], "relay_src", relayDev),
		s.mr6.route(S1v6, grpMLDv2, "relay_src", relayDev),
		s.mr6.route(S2v6, grpMLDv2, "relay_src", relayDev),
		s.mr6.route(S1v6, grpFilter6, "relay_src", relayDev),
		s.mr6.route(S2v6, grpFilter6, "relay_src", relayDev),
		s.mr6.route(S1v6, grpLeave6, "relay_src", relayDev),
		s.mr6.route(S1v6, grpMarker6, "relay_src", relayDev),
	} {
		if err != nil {
			t.Fatalf("%v (%s)", err, s)
		}
	}
	for i := range grpLeaveIGMPv2 {
		if err := errors.Join(s.mr4.route(S1, grpLeaveIGMPv2[i], "relay_src", relayDev),
			s.mr6.route(S1v6, grpLeaveMLDv1[i], "relay_src", relayDev)); err != nil {
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
		suiteCase[*mcastSuite]{"IGMPv2 leave stops tunnelled data", testLeaveIGMPv2},
		suiteCase[*mcastSuite]{"MLDv1 leave stops tunnelled data", testLeaveMLDv1},
		suiteCase[*mcastSuite]{"gateway counts no tunnelled report as dropped", testUpdateNotDropped},
	)
}

// testUpdateNotDropped: an IGMPv3 join on the listener. Every packet the
// gateway's amt link is handed (an outgoing tap on amtg, which the bridge
// floods the listener's reports to) is either tunnelled to the relay as a
// Membership Update (an outgoing tap on gw_relay) or dropped; the link's TX
// dropped counter may grow by the packets that were not tunnelled, never
// by the updates sent.
func testUpdateNotDropped(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueGatewayUpdateDropped)
	s.forceVersion(t, false, "3")
	handed, err := newOutgoingTap(s.gateway, gatewayDev)
	if err != nil {
		t.Fatal(err)
	}
	defer handed.Close()
	upTap, err := newOutgoingTap(s.gateway, "gw_relay")
	if err != nil {
		t.Fatal(err)
	}
	defer upTap.Close()
	before, err := s.gateway.linkStats(gatewayDev)
	if err != nil {
		t.Fatal(err)
	}
	rcv := openReceiver(t, s.listener, "l_gw", netip.AddrPortFrom(grpUpdateDrops, 4123), sourceV4.Addr())
	// The join's report and its retransmissions (robustness 2, within
	// about a second): wait until an update for the group has gone out,
	// then until the gateway has been handed nothing for a while.
	updates, reports, n, joined := 0, 0, 0, false
	deadline := time.Now().Add(deliveryTimeout)
	for !joined && time.Now().Before(deadline) {
		drainTap(upTap, parseMembershipUpdate, func(m membershipMsg) {
			updates++
			if slices.Contains(m.records, grpUpdateDrops) {
				joined = true
			}
		})
	}
	if !joined {
		t.Fatalf("no Membership Update for %v left the gateway within %v; %s", grpUpdateDrops, deliveryTimeout, s.diag())
	}
	quiet := func() {
		for {
			b, err := handed.nextRaw(time.Now().Add(1500 * time.Millisecond))
			if err != nil {
				return
			}
			n++
			if m, ok := parseMembership(b); ok && m.typ == igmpV3Report {
				reports++
			}
		}
	}
	quiet()
	drainTap(upTap, parseMembershipUpdate, func(membershipMsg) { updates++ })
	after, err := s.gateway.linkStats(gatewayDev)
	if err != nil {
		t.Fatal(err)
	}
	rcv.Close()
	dropped := after.TXDropped - before.TXDropped
	seen := fmt.Sprintf("amtg was handed %d packets (%d IGMPv3 reports), gw_relay sent %d Membership Updates, amtg's TX dropped grew by %d",
		n, reports, updates, dropped)
	t.Log(seen)
	if notTunnelled := max(n-updates, 0); int(dropped) > notTunnelled {
		if int(dropped) >= updates {
			xfail(t, issueGatewayUpdateDropped, errors.New(seen))
		}
		t.Fatalf("amtg counted %d drops but only %d of the packets it was handed were not tunnelled: %s", dropped, notTunnelled, seen)
	}
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

// testIGMPv2Join joins with IGMPv2 and expects data; oldVersionJoin
// judges the attempt on the reports the listener really sent.
func testIGMPv2Join(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueGatewayDropsIGMPv2)
	s.forceVersion(t, false, "2")
	if v := s.igmpVersion(t, "l_gw"); v != "V2" {
		t.Fatalf("the listener speaks IGMP %s on l_gw despite force_igmp_version=2", v)
	}
	for _, group := range grpIGMPv2 {
		if _, _, ok := s.oldVersionJoin(t, group, 4102, issueGatewayDropsIGMPv2); ok {
			return
		}
	}
	t.Fatalf("every attempt (%v) was spoiled by an IGMPv3 report from the listener", grpIGMPv2)
}

// oldVersionJoin joins group from the listener, which speaks the old
// protocol version (IGMPv2, MLDv1) on l_gw, and expects data. Meanwhile
// taps on the gateway record which reports the listener really sent for
// the group (on gw_l) and which of them the gateway passed on to the relay
// in AMT Membership Updates (leaving gw_relay), so that the verdict rests
// on old-version reports alone and says where they were lost.
//
// The listener can still send one new-version report after the switch to
// the old version: a relay query that arrived just before it arms the
// general-query response timer, and when it fires (within the query's
// 100 ms maximum response time) net/ipv4/igmp.c igmp_gq_timer_expire, or
// net/ipv6/mcast.c mld_gq_work, reports every group in the new version
// without looking at the forced one. If that report named the group, the
// attempt proves nothing about the old version (the relay now holds the
// group for minutes): oldVersionJoin returns ok false, and the caller tries
// a fresh group.
//
// Data counts only when the gateway passed old-version reports on to the
// relay; data without that fails the case. When data does not come although
// old-version reports reached the gateway, the case ends: as an expected
// failure with issue when the gateway was ready (its remote the relay, the
// relay's queries arriving) yet passed none of them on and issue is not "",
// otherwise as a failure.
func (s *mcastSuite) oldVersionJoin(t *testing.T, group netip.Addr, port uint16, issue knownIssue) (snd *sender, rcv *receiver, ok bool) {
	t.Helper()
	oldName, curName := "IGMPv2", "IGMPv3"
	if group.Is6() {
		oldName, curName = "MLDv1", "MLDv2"
	}
	snd, rcv, old, cur, fwd, queries, derr := s.oldVersionAttempt(t, group, port)
	t.Logf("%s: %s reports %d (the gateway passed %d on to the relay), %s reports naming it %d", group, oldName, old, fwd, curName, cur)
	switch {
	case cur > 0:
		t.Logf("%s: the listener also reported it with %s (a general-query timer armed before the switch to %s); trying a fresh group", group, curName, oldName)
		return nil, nil, false
	case old == 0:
		t.Fatalf("the listener sent no %s report for %s that the gateway saw; data: %v", oldName, group, derr)
	case derr == nil && fwd == 0:
		t.Fatalf("data for %s arrived, but that proves nothing about %s: the listener sent %d %s reports for it (seen on %s's gw_l) "+
			"and the gateway passed none on to the relay (no AMT Membership Update carrying one left gw_relay)",
			group, oldName, old, oldName, s.gateway)
	case derr != nil && fwd == 0 && issue != "":
		if why := s.notReady(queries, group.Is6()); why != "" {
			t.Fatalf("%d %s reports for %s reached the gateway, which passed none on to the relay, but the gateway was not ready "+
				"to pass any on, so this is not the known issue: %s; data: %v", old, oldName, group, why, derr)
		}
		xfail(t, issue, fmt.Errorf("%d %s reports for %s reached the gateway, which passed none on to the relay although it was ready "+
			"(remote %s, %d AMT Membership Queries from the relay meanwhile), and: %w", old, oldName, group, relayUpV4.Addr(), queries, derr))
	case derr != nil:
		t.Fatalf("%d %s reports for %s reached the gateway, which passed %d on to the relay, yet: %v", old, oldName, group, fwd, derr)
	}
	return snd, rcv, true
}

// oldVersionAttempt joins group from the listener and waits for data. It
// counts, as the gateway's gw_l saw them, the listener's reports for group
// in the old protocol version (IGMPv2 0x16, or MLDv1 131 for IPv6) and its
// reports in the new one naming group (IGMPv3 0x22, MLDv2 143), and the
// old-version reports for group the gateway sent to the relay, and the
// relay's queries for the group's IP version that reached the gateway.
func (s *mcastSuite) oldVersionAttempt(t *testing.T, group netip.Addr, port uint16) (snd *sender, rcv *receiver, old, cur, fwd, queries int, derr error) {
	t.Helper()
	lanTap, upTap, downTap := s.gatewayTaps(t)
	defer lanTap.Close()
	defer upTap.Close()
	defer downTap.Close()
	src := sourceV4.Addr()
	if group.Is6() {
		src = sourceV6.Addr()
	}
	snd, rcv = s.pair(t, src, group, port)
	// Shorter than deliveryTimeout: the reports are judged, and a working
	// path delivers within one request/query cycle of about 2 s.
	_, derr = deliver(t, snd, rcv, oldVersionTimeout, s.diag)
	isOld := func(m membershipMsg) bool {
		return (m.typ == igmpV2Report || m.typ == mldV1Report) && m.group == group
	}
	drainTap(lanTap, parseMembership, func(m membershipMsg) {
		switch {
		case isOld(m):
			old++
		case (m.typ == igmpV3Report || m.typ == mldV2Report) && slices.Contains(m.records, group):
			cur++
		}
	})
	drainTap(upTap, parseMembershipUpdate, func(m membershipMsg) {
		if isOld(m) {
			fwd++
		}
	})
	queries = relayQueries(downTap, group.Is6())
	return snd, rcv, old, cur, fwd, queries, derr
}

// gatewayTaps opens taps on the gateway for what the listener sends it
// (gw_l), what it sends to the relay (gw_relay, outgoing) and what it
// receives from the relay (gw_relay). The caller closes them.
func (s *mcastSuite) gatewayTaps(t *testing.T) (lan, up, down *tap) {
	t.Helper()
	lan, err := newTap(s.gateway, "gw_l")
	if err != nil {
		t.Fatal(err)
	}
	up, err = newOutgoingTap(s.gateway, "gw_relay")
	if err != nil {
		lan.Close()
		t.Fatal(err)
	}
	down, err = newTap(s.gateway, "gw_relay")
	if err != nil {
		lan.Close()
		up.Close()
		t.Fatal(err)
	}
	return lan, up, down
}

// relayQueries counts, in what tp (the gateway's gw_relay, incoming) has
// buffered, the AMT Membership Queries from the relay carrying an IGMP
// (v6 false) or MLD general query. Each answers one of the gateway's
// Requests, every 2 s; until one has, the gateway passes no membership
// message of that IP version on (amt.c amt_dev_xmit checks ready4 /
// ready6, which amt_membership_query_handler sets).
func relayQueries(tp *tap, v6 bool) int {
	want := byte(4)
	if v6 {
		want = 6
	}
	n := 0
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		b, err := tp.nextRaw(time.Now().Add(20 * time.Millisecond))
		if err != nil {
			break
		}
		// Version 0, type, reserved, response MAC (6), nonce (4), then
		// the encapsulated query.
		p := parseUDP(b)
		if p != nil && p.src == relayUpV4.Addr() && p.sport == amtPort && len(p.payload) > 12 &&
			p.payload[0] == amtMsgMembershipQuery && p.payload[12]>>4 == want {
			n++
		}
	}
	return n
}

// notReady says why the gateway could not pass a membership message of
// the IP version v6 says on to the relay, given that queries such queries
// from the relay reached it meanwhile: its remote is not the relay
// (discovery not done or lost), or no request of it was answered. It
// returns "" when the gateway was ready.
func (s *mcastSuite) notReady(queries int, v6 bool) string {
	var why []string
	l, err := s.gw.Get(gatewayDev)
	switch {
	case err != nil:
		why = append(why, err.Error())
	case l.AMT.Remote != relayUpV4.Addr():
		why = append(why, fmt.Sprintf("%s's remote is %v, not the relay %s (discovery not done, or the relay lost)", gatewayDev, l.AMT.Remote, relayUpV4.Addr()))
	}
	if queries == 0 {
		q := "IGMP"
		if v6 {
			q = "MLD"
		}
		why = append(why, fmt.Sprintf("no AMT Membership Query carrying an %s query came from the relay %s to %s's gw_relay meanwhile "+
			"(the gateway's requests went unanswered)", q, relayUpV4.Addr(), s.gateway))
	}
	return strings.Join(why, "; ")
}

// drainTap hands each membership message parse finds in what tp has
// buffered to fn, until the tap has been quiet for 20 ms (or, should it
// never be, for at most 2 s: the membership traffic on these links is a
// few packets a second).
func drainTap(tp *tap, parse func([]byte) (membershipMsg, bool), fn func(membershipMsg)) {
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		b, err := tp.nextRaw(time.Now().Add(20 * time.Millisecond))
		if err != nil {
			return // drained (or the tap failed: what was read is the count)
		}
		if m, ok := parse(b); ok {
			fn(m)
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
	s.relayFilter(t, sourceV4.Addr(), sourceV4b.Addr(), grpFilter4, 4113)
}

// testMLDv1Join is testIGMPv2Join for MLDv1. No known issue explains an
// MLDv1 join without data: the gateway passes MLDv1 reports (131) on.
func testMLDv1Join(t *testing.T, s *mcastSuite) {
	s.forceVersion(t, true, "1")
	for _, group := range grpMLDv1 {
		if _, _, ok := s.oldVersionJoin(t, group, 6106, ""); ok {
			return
		}
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
	s.relayFilter(t, sourceV6.Addr(), sourceV6b.Addr(), grpFilter6, 6117)
}

// relayFilter joins group for source good only, then watches the tunnel on
// the gateway's underlay: datagrams from bad must not be in it. Each round
// sends one datagram from bad, then a marker from good right behind it on
// the same path; once the marker has come through the tunnel, bad's would
// have too.
func (s *mcastSuite) relayFilter(t *testing.T, goodSrc, badSrc, group netip.Addr, port uint16) {
	upTap, err := newOutgoingTap(s.gateway, "gw_relay")
	if err != nil {
		t.Fatal(err)
	}
	defer upTap.Close()
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
		// The known issue is the relay's only if the gateway asked it for
		// goodSrc alone: every record for group it passed on include-mode.
		var asked []groupRecord
		drainTap(upTap, parseMembershipUpdate, func(m membershipMsg) {
			for _, r := range m.recs {
				if r.group == group {
					asked = append(asked, r)
				}
			}
		})
		if len(asked) == 0 {
			t.Fatalf("%d of %d datagrams from the unjoined source %s to %s came through the tunnel, and the gateway passed no report "+
				"record for %s on to the relay (no AMT Membership Update leaving gw_relay named it)", leaked, rounds, badSrc, group, group)
		}
		for _, r := range asked {
			if !r.includes() || len(r.sources) == 0 || slices.ContainsFunc(r.sources, func(a netip.Addr) bool { return a != goodSrc }) {
				t.Fatalf("%d of %d datagrams from the unjoined source %s to %s came through the tunnel, but the gateway asked the relay "+
					"for %v, not only (%s, %s) in include mode (IS_IN, ALLOW, TO_IN), so this is not the known issue", leaked, rounds, badSrc, group, asked, goodSrc, group)
			}
		}
		xfail(t, issueRelayIgnoresSources, fmt.Errorf(
			"the listener joined (%s, %s) only and the gateway asked the relay for %v, yet %d of %d datagrams from %s to %s came through the tunnel (seen on %s's gw_relay)",
			goodSrc, group, asked, leaked, rounds, badSrc, group, s.gateway))
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

// leave joins group and a marker group (IGMPv3 / MLDv2, any source),
// checks both flow, leaves group and watches the tunnel. The gateway
// passes IGMPv3 and MLDv2 reports on, so only the relay can keep a group
// that was left.
func (s *mcastSuite) leave(t *testing.T, src, group, marker netip.Addr, port uint16) {
	snd, rcv := s.pair(t, src, group, port)
	msnd, mrcv := s.pair(t, src, marker, port)
	expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)
	expectDelivery(t, msnd, mrcv, deliveryTimeout, s.diag)
	r := s.leaveAndWatch(t, snd, rcv, msnd)
	name := "IGMPv3 leave reports (TO_IN({}))"
	if group.Is6() {
		name = "MLDv2 leave reports (TO_IN({}))"
	}
	s.leaveVerdict(t, r, name, group, "", issueNoLeaveProcessing)
}

// testLeaveIGMPv2: an IGMPv2 listener joins, gets data, leaves with an
// IGMPv2 leave (0x17), and the relay must stop tunnelling the group: amt.c
// amt_igmpv2_leave_handler deletes it at once. The gateway drops IGMPv2
// reports and leaves, so on a stock kernel the case ends at the join.
func testLeaveIGMPv2(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueGatewayDropsIGMPv2)
	s.forceVersion(t, false, "2")
	if v := s.igmpVersion(t, "l_gw"); v != "V2" {
		t.Fatalf("the listener speaks IGMP %s on l_gw despite force_igmp_version=2", v)
	}
	snd, rcv, msnd := s.oldVersionLeavePair(t, grpLeaveIGMPv2, 4105, issueGatewayDropsIGMPv2)
	r := s.leaveAndWatch(t, snd, rcv, msnd)
	s.leaveVerdict(t, r, "IGMPv2 leave messages", rcv.group, issueGatewayDropsIGMPv2, "")
}

// testLeaveMLDv1 is testLeaveIGMPv2 for an MLDv1 listener and its Done
// (132), which the relay would handle in amt_mldv1_leave_handler.
func testLeaveMLDv1(t *testing.T, s *mcastSuite) {
	expectIssue(t, issueMLDv1Done)
	s.forceVersion(t, true, "1")
	snd, rcv, msnd := s.oldVersionLeavePair(t, grpLeaveMLDv1, 6105, "")
	r := s.leaveAndWatch(t, snd, rcv, msnd)
	s.leaveVerdict(t, r, "MLDv1 Done messages", rcv.group, issueMLDv1Done, issueMLDv1Done)
}

// oldVersionLeavePair joins, with oldVersionJoin, the first group of pool
// whose attempt was not spoiled and a marker group, the next such one,
// and returns the group's sender and receiver and the marker's sender.
// joinIssue is what explains a join that brings no data.
func (s *mcastSuite) oldVersionLeavePair(t *testing.T, pool []netip.Addr, port uint16, joinIssue knownIssue) (*sender, *receiver, *sender) {
	t.Helper()
	var snds []*sender
	var rcvs []*receiver
	for _, g := range pool {
		if snd, rcv, ok := s.oldVersionJoin(t, g, port, joinIssue); ok {
			snds, rcvs = append(snds, snd), append(rcvs, rcv)
		}
		if len(snds) == 2 {
			return snds[0], rcvs[0], snds[1]
		}
	}
	t.Fatalf("too many attempts (%v) were spoiled by a report from the listener in the new protocol version: %d of 2 groups joined", pool, len(snds))
	return nil, nil, nil
}

// leaveResult is what leaveAndWatch saw.
type leaveResult struct {
	stopped   bool          // leaveQuietRounds rounds in a row came through without the group's datagram
	after     time.Duration // from the leave to the first of them, or to the last round with it
	rounds    int
	carried   int // rounds that carried the group's datagram
	sent      int // messages leaving the group the listener sent (seen on the gateway's gw_l)
	forwarded int // messages leaving the group the gateway sent the relay (AMT Membership Updates leaving its gw_relay)
	queries   int // AMT Membership Queries for the group's IP version the relay sent the gateway meanwhile
}

// leaveAndWatch has rcv leave its group, then waits, up to leaveBound, for
// rounds in which the group's datagram (from snd) no longer comes through
// the tunnel while the marker group's (from msnd) still does. The rounds
// watch the gateway's underlay, not the listener: once it has left, the
// listener's kernel drops the group's data whatever the relay does, so
// only the tunnel shows whether the relay stopped. Taps on the gateway
// count the messages leaving the group on their way to the relay.
func (s *mcastSuite) leaveAndWatch(t *testing.T, snd *sender, rcv *receiver, msnd *sender) leaveResult {
	t.Helper()
	lanTap, upTap, downTap := s.gatewayTaps(t)
	defer lanTap.Close()
	defer upTap.Close()
	defer downTap.Close()
	tp := s.openTunnelTap(t)
	group := rcv.group
	if err := rcv.leave(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	badTag, goodTag := token("left-group"), token("marker")
	var r leaveResult
	quiet := 0 // rounds in a row without the group's datagram
	for time.Since(start) < leaveBound || quiet > 0 {
		seen, err := s.tunnelRound(t, tp, snd, msnd, badTag, goodTag)
		if err != nil {
			t.Fatal(err)
		}
		r.rounds++
		if seen {
			r.carried++
			quiet = 0
		} else {
			quiet++
		}
		if quiet <= 1 {
			r.after = time.Since(start) // the last round with it, or the first without
		}
		if quiet == leaveQuietRounds {
			r.stopped = true
			return r.count(lanTap, upTap, downTap, group)
		}
		time.Sleep(sendInterval) // pace the rounds; the outcome never rests on it
	}
	return r.count(lanTap, upTap, downTap, group)
}

// leaveQuietRounds is how many rounds in a row must come through without
// the left group's datagram before the relay counts as stopped, so that one
// datagram lost on the way cannot pass for a leave.
const leaveQuietRounds = 3

// count fills in, from what the taps have buffered, the messages leaving
// group the listener sent and the gateway passed on, and the relay's
// queries, and returns r.
func (r leaveResult) count(lanTap, upTap, downTap *tap, group netip.Addr) leaveResult {
	drainTap(lanTap, parseMembership, func(m membershipMsg) {
		if m.leaving(group) {
			r.sent++
		}
	})
	drainTap(upTap, parseMembershipUpdate, func(m membershipMsg) {
		if m.leaving(group) {
			r.forwarded++
		}
	})
	r.queries = relayQueries(downTap, group.Is6())
	return r
}

// leaveVerdict ends a leave case on what leaveAndWatch saw: a pass when the
// relay stopped tunnelling group after the listener sent leave messages
// (what names them, in the plural) and the gateway passed some on; a stop
// without either is a failure. Otherwise it fails, or ends as an expected
// failure with dropped when the gateway, ready (its remote the relay, the
// relay's queries arriving), passed none on to the relay, or with relayed
// when it did and the relay went on anyway; "" is no known issue.
func (s *mcastSuite) leaveVerdict(t *testing.T, r leaveResult, what string, group netip.Addr, dropped, relayed knownIssue) {
	t.Helper()
	still := fmt.Sprintf("the relay still tunnelled %s to the gateway %v after the listener left it (%d of %d rounds carried it)",
		group, r.after.Round(time.Millisecond), r.carried, r.rounds)
	issue := relayed
	var err error
	switch {
	case r.stopped && r.sent == 0:
		t.Fatalf("the relay stopped tunnelling %s %v after the listener left it, but not because of a leave: the listener sent no %s for it that the gateway's gw_l saw",
			group, r.after.Round(time.Millisecond), what)
	case r.stopped && r.forwarded == 0:
		t.Fatalf("the relay stopped tunnelling %s %v after the listener left it, but not because of a leave: the listener sent %d %s for it, "+
			"the gateway passed none on to the relay (no AMT Membership Update carrying one left gw_relay)",
			group, r.after.Round(time.Millisecond), r.sent, what)
	case r.stopped:
		t.Logf("the relay stopped tunnelling %s %v after the listener left it (none of the last %d of %d rounds carried it); the listener sent %d %s for it, the gateway passed %d on to the relay",
			group, r.after.Round(time.Millisecond), leaveQuietRounds, r.rounds, r.sent, what, r.forwarded)
		return
	case r.sent == 0:
		t.Fatalf("%s, and the listener sent no %s for it that the gateway's gw_l saw", still, what)
	case r.forwarded == 0:
		issue = dropped
		if why := s.notReady(r.queries, group.Is6()); why != "" {
			t.Fatalf("%s; the listener sent %d %s for it, the gateway passed none on to the relay, but the gateway was not ready to pass "+
				"any on (not a known issue): %s", still, r.sent, what, why)
		}
		err = fmt.Errorf("the listener sent %d %s for %s (seen on %s's gw_l), the gateway passed none on to the relay (no AMT Membership Update carrying one left gw_relay) "+
			"although it was ready (remote %s, %d AMT Membership Queries from the relay meanwhile), and %s",
			r.sent, what, group, s.gateway, relayUpV4.Addr(), r.queries, still)
	default:
		// From outside the relay, "the relay ignored the leave" cannot be told from "the relay rejected the update".
		err = fmt.Errorf("the listener sent %d %s for %s, the gateway passed %d on to the relay in AMT Membership Updates, yet %s",
			r.sent, what, group, r.forwarded, still)
	}
	if issue == "" {
		t.Fatal(err)
	}
	xfail(t, issue, err)
}
