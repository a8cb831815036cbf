//go:build linux

package selftests

import (
	"crypto/rand"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// amtSuite is the environment of the amt.sh cases: the topology and the
// kernel log reader opened before the AMT links were created.
type amtSuite struct {
	*amtTopology
	kmsg *kmsgReader
}

func setupAMTSuite(t *testing.T) *amtSuite {
	requireAMT(t) // before anything that needs root
	s := &amtSuite{}
	k, err := openKmsg()
	if err != nil {
		t.Fatalf("kernel log: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	s.kmsg = k
	s.amtTopology = newAMTTopology(t, amtOptions{})
	return s
}

// TestIntegrationPlumbing checks the harness itself, on any kernel with
// multicast routing: it runs first, so that when an AMT case fails and this
// passed, the fault is in AMT.
func TestIntegrationPlumbing(t *testing.T) {
	runSuite(t, setupPlumbing,
		suiteCase[*plumbing]{"plumbing: IPv4 multicast across a routed hop", func(t *testing.T, p *plumbing) {
			rcv := openReceiver(t, p.listener, "l_gw", netip.AddrPortFrom(group4, 4000))
			snd := openSender(t, p.source, sourceV4.Addr(), "src_relay", netip.AddrPortFrom(group4, 4000))
			expectDelivery(t, snd, rcv, deliveryTimeout, p.diag())
		}},
		suiteCase[*plumbing]{"plumbing: IPv6 multicast across a routed hop", func(t *testing.T, p *plumbing) {
			rcv := openReceiver(t, p.listener, "l_gw", netip.AddrPortFrom(group6, 6000))
			snd := openSender(t, p.source, sourceV6.Addr(), "src_relay", netip.AddrPortFrom(group6, 6000))
			expectDelivery(t, snd, rcv, deliveryTimeout, p.diag())
		}},
		suiteCase[*plumbing]{"plumbing: IPv4 source-specific join filters sources", func(t *testing.T, p *plumbing) {
			rcv := openReceiver(t, p.listener, "l_gw", netip.AddrPortFrom(group4, 4002), sourceV4.Addr())
			good := openSender(t, p.source, sourceV4.Addr(), "src_relay", netip.AddrPortFrom(group4, 4002))
			bad := openSender(t, p.source, sourceV4b.Addr(), "src_relay", netip.AddrPortFrom(group4, 4002))
			expectDelivery(t, good, rcv, deliveryTimeout, p.diag())
			expectSilence(t, bad, good, rcv, 20, deliveryTimeout)
		}},
		suiteCase[*plumbing]{"plumbing: IPv6 source-specific join filters sources", func(t *testing.T, p *plumbing) {
			rcv := openReceiver(t, p.listener, "l_gw", netip.AddrPortFrom(group6, 6002), sourceV6.Addr())
			good := openSender(t, p.source, sourceV6.Addr(), "src_relay", netip.AddrPortFrom(group6, 6002))
			bad := openSender(t, p.source, sourceV6b.Addr(), "src_relay", netip.AddrPortFrom(group6, 6002))
			expectDelivery(t, good, rcv, deliveryTimeout, p.diag())
			expectSilence(t, bad, good, rcv, 20, deliveryTimeout)
		}},
	)
}

// TestIntegrationAMT runs amt.sh's cases, in amt.sh's order and with its
// names, on amt.sh's topology.
func TestIntegrationAMT(t *testing.T) {
	runSuite(t, setupAMTSuite,
		suiteCase[*amtSuite]{"amt discovery", testDiscovery},
		suiteCase[*amtSuite]{"IPv4 amt multicast forwarding", testForward4},
		suiteCase[*amtSuite]{"IPv6 amt multicast forwarding", testForward6},
		suiteCase[*amtSuite]{"amt relay queries bypass the amt device", testQueryEgress},
		suiteCase[*amtSuite]{"IPv4 amt traffic forwarding torture", testTorture4},
		suiteCase[*amtSuite]{"IPv6 amt traffic forwarding torture", testTorture6},
	)
}

// testDiscovery is amt.sh's test_remote_ip: the gateway reports the relay's
// address as its remote once discovery has worked.
func testDiscovery(t *testing.T, s *amtSuite) {
	s.waitDiscovered(t, s.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
}

// testForward4 is amt.sh's test_ipv4_forward: a datagram from the source to
// 239.0.0.1:4000 reaches the listener through the tunnel, from 172.17.0.2.
func testForward4(t *testing.T, s *amtSuite) {
	s.forward(t, sourceV4.Addr(), group4, 4000)
}

// testForward6 is amt.sh's test_ipv6_forward, to [ff0e::5:6]:6000.
func testForward6(t *testing.T, s *amtSuite) {
	s.forward(t, sourceV6.Addr(), group6, 6000)
}

// testQueryEgress is amt.sh's test_query_egress: the relay sends the IGMP
// and MLD General Queries that answer the gateway's Requests straight from
// the receive path into the tunnel (amt.c amt_send_igmp_gq and
// amt_send_mld_gq call amt_send_membership_query, which sends on the lower
// device), never through amtr's own transmit path, where a query could
// outlive the tunnel it was built for. amt.sh counts IGMP and MLD queries
// with tc filters on amtr's egress; here an outgoing tap on amtr does, and
// a second one on amtr's lower device sees the queries leave as AMT
// Membership Query messages, so that amtr's silence counts only while
// queries flowed.
//
// The tunnelled queries are the markers: a query that went through amtr
// passed amtr's taps (dev_queue_xmit) before amt_dev_xmit tunnelled it, so
// once its copy is on the underlay, what amtr's tap holds is all there is
// to count.
func testQueryEgress(t *testing.T, s *amtSuite) {
	amtrOut, err := newOutgoingTap(s.relay, relayDev)
	if err != nil {
		t.Fatal(err)
	}
	defer amtrOut.Close()
	underlay, err := newOutgoingTap(s.relay, s.relayLower)
	if err != nil {
		t.Fatal(err)
	}
	defer underlay.Close()

	// The gateway sends an IPv4 and an IPv6 Request every 2 s or so while
	// the relay answers (amt_event_send_request), each answered by one query.
	const want = 2 // of each family
	var tunnelled4, tunnelled6 int
	deadline := time.Now().Add(queryWait)
	for tunnelled4 < want || tunnelled6 < want {
		b, err := underlay.nextRaw(deadline)
		if isTimeout(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch m, ok := parseMembershipQuery(b); {
		case !ok:
		case m.typ == igmpQuery:
			tunnelled4++
		case m.typ == mldQuery:
			tunnelled6++
		}
	}
	if tunnelled4 < want || tunnelled6 < want {
		t.Fatalf("in %v the relay sent %d IGMP and %d MLD General Queries through the tunnel on %s (want %d of each): "+
			"with no queries flowing, amtr's egress proves nothing; %s", queryWait, tunnelled4, tunnelled6, s.relayLower, want, s.diag())
	}

	var out4, out6, other int
	for {
		b, err := amtrOut.nextRaw(time.Now().Add(drainQuiet))
		if isTimeout(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch m, ok := parseMembership(b); {
		case ok && m.typ == igmpQuery:
			out4++
		case ok && m.typ == mldQuery:
			out6++
		default:
			other++
		}
	}
	t.Logf("%s sent %d IGMP and %d MLD General Queries into the tunnel; %s's egress: %d IGMP queries, %d MLD queries, %d other packets",
		s.relayLower, tunnelled4, tunnelled6, relayDev, out4, out6, other)
	if out4 != 0 || out6 != 0 {
		t.Errorf("IGMP queries on %s egress: %d, MLD queries: %d (the relay must send its General Queries straight into the tunnel, "+
			"not through its amt device; %d IGMP and %d MLD queries left on %s meanwhile)", relayDev, out4, out6, tunnelled4, tunnelled6, s.relayLower)
	}
}

// queryWait bounds how long testQueryEgress waits for the relay's queries:
// several of amt.c's request/query cycles.
const queryWait = 15 * time.Second

func (s *amtSuite) forward(t *testing.T, src, group netip.Addr, port uint16) time.Duration {
	t.Helper()
	dst := netip.AddrPortFrom(group, port)
	rcv := openReceiver(t, s.listener, "l_gw", dst)
	snd := openSender(t, s.source, src, "src_relay", dst)
	before := s.gatewayRx(t)
	took := expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)
	// The relay routes this group only into amtr, so the datagram can only
	// have come out of the tunnel; the gateway's counter confirms it.
	if after := s.gatewayRx(t); after <= before {
		t.Errorf("the listener got the datagram but %s counted no packet received (rx %d before, %d after): it did not come through the tunnel", gatewayDev, before, after)
	}
	return took
}

// gatewayRx returns the packets amtg has received (decapsulated data and
// membership queries).
func (s *amtSuite) gatewayRx(t *testing.T) uint64 {
	t.Helper()
	l, err := s.gw.Get(gatewayDev)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stats == nil {
		t.Fatalf("%s: the kernel sent no statistics for %s", s.gateway, gatewayDev)
	}
	return l.Stats.RXPackets
}

func testTorture4(t *testing.T, s *amtSuite) {
	s.torture(t, sourceV4.Addr(), group4, 4001, 4000)
}

func testTorture6(t *testing.T, s *amtSuite) {
	s.torture(t, sourceV6.Addr(), group6, 6001, 6000)
}

// tortureSizes are the datagram sizes the torture cycles through: small,
// the largest that fits src_relay's MTU of 1400 unfragmented (for each
// family), and one that leaves the source as six fragments, which the relay
// forwards and tunnels one by one. amt.sh's nc sends what it reads from a
// pipe, usually large fragmented datagrams.
func tortureSizes(v6 bool) []int {
	if v6 {
		return []int{64, 1400 - 40 - 8, 512, 8000}
	}
	return []int{64, 1400 - 20 - 8, 512, 8000}
}

// torture is amt.sh's send_mcast_torture: -amt.torture-bytes of random data
// from the source to group:port, as fast as the source can send. amt.sh
// checks nothing afterwards; this case checks that some of it arrived, that
// forwarding still works (on checkPort) and that the kernel logged no
// warning, BUG or oops meanwhile.
func (s *amtSuite) torture(t *testing.T, src, group netip.Addr, port, checkPort uint16) {
	dst := netip.AddrPortFrom(group, port)
	rcv := openReceiver(t, s.listener, "l_gw", dst)
	snd := openSender(t, s.source, src, "src_relay", dst)
	// The tunnel must carry this group before the flood means anything.
	expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)

	total := *tortureBytes
	payload := make([]byte, 8000)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	var rxPkts, rxBytes atomic.Int64
	sendDone := make(chan struct{})
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			// After the sender is done, stop once the tunnel has been
			// quiet for drainQuiet: what is still in flight by then
			// arrives within milliseconds, even under emulation.
			d, err := rcv.recv(time.Now().Add(drainQuiet))
			if err != nil {
				select {
				case <-sendDone:
					return
				default:
					if isTimeout(err) {
						continue
					}
					return
				}
			}
			rxPkts.Add(1)
			rxBytes.Add(int64(len(d.payload)))
		}
	}()
	sizes := tortureSizes(src.Is6())
	start := time.Now()
	var txPkts, txBytes int64
	var sendErr error
	for i := 0; txBytes < total; i++ {
		n := min(int64(sizes[i%len(sizes)]), total-txBytes)
		if sendErr = snd.send(payload[:n]); sendErr != nil {
			break
		}
		txPkts++
		txBytes += n
	}
	sendTook := time.Since(start)
	close(sendDone)
	<-recvDone
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	t.Logf("torture: sent %d datagrams (%d bytes) to %s in %v (%.1f MiB/s); the listener received %d (%d bytes, %.1f%%)",
		txPkts, txBytes, dst, sendTook.Round(time.Millisecond), float64(txBytes)/(1<<20)/sendTook.Seconds(),
		rxPkts.Load(), rxBytes.Load(), 100*float64(rxPkts.Load())/float64(max(txPkts, 1)))
	if rxPkts.Load() == 0 {
		t.Errorf("none of the %d torture datagrams to %s reached the listener; %s", txPkts, dst, s.diag())
	}

	// Forwarding must survive the flood.
	s.forward(t, src, group, checkPort)
	s.checkKernelLog(t)
}

// drainQuiet is how long the torture's receiver waits for one more datagram
// once the sender has finished.
const drainQuiet = 250 * time.Millisecond

// checkKernelLog fails the test if the kernel logged a warning, BUG, oops or
// call trace since the suite started or the last check.
func (s *amtSuite) checkKernelLog(t *testing.T) {
	t.Helper()
	lines, err := s.kmsg.read()
	if err != nil {
		t.Fatalf("reading the kernel log: %v", err)
	}
	if bad := troubleLines(lines); len(bad) > 0 {
		t.Errorf("the kernel logged trouble (%d lines):\n%s", len(bad), strings.Join(bad, "\n"))
	} else {
		t.Logf("kernel log: %d new lines, no warning, BUG or call trace", len(lines))
	}
}
