//go:build linux

package selftests

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cases beyond amt.sh about tunnels: several gateways, the relay's tunnel
// limit, and AMT devices or their lower devices going away.

// kmsgSuite is an AMT topology plus the kernel log from before it was built.
type kmsgSuite struct {
	*amtTopology
	kmsg *kmsgReader
}

func setupKmsgSuite(o amtOptions) func(t *testing.T) *kmsgSuite {
	return func(t *testing.T) *kmsgSuite {
		requireAMT(t)
		k, err := openKmsg()
		if err != nil {
			t.Fatalf("kernel log: %v", err)
		}
		t.Cleanup(func() { k.Close() })
		s := &kmsgSuite{kmsg: k, amtTopology: newAMTTopology(t, o)}
		s.waitDiscovered(t, s.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
		if o.twoGateways {
			s.waitDiscovered(t, s.gw2, gatewayDev, relayUpV4.Addr(), discoveryWait)
		}
		return s
	}
}

// checkKernelLog fails the case if the kernel logged trouble since the suite
// started or since the last check.
func (s *kmsgSuite) checkKernelLog(t *testing.T) {
	t.Helper()
	lines, err := s.kmsg.read()
	if err != nil {
		t.Fatalf("reading the kernel log: %v", err)
	}
	if bad := troubleLines(lines); len(bad) > 0 {
		t.Errorf("the kernel logged trouble (%d lines):\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

func TestIntegrationAMTTwoGateways(t *testing.T) {
	runSuite(t, setupKmsgSuite(amtOptions{twoGateways: true}),
		suiteCase[*kmsgSuite]{"two gateways behind one relay both receive", testTwoGateways},
	)
}

func testTwoGateways(t *testing.T, s *kmsgSuite) {
	dst := netip.AddrPortFrom(group4, 4000)
	rcv1 := openReceiver(t, s.listener, "l_gw", dst)
	rcv2 := openReceiver(t, s.listener2, "l_gw", dst)
	snd := openSender(t, s.source, sourceV4.Addr(), "src_relay", dst)
	expectDelivery(t, snd, rcv1, deliveryTimeout, s.diag)
	expectDelivery(t, snd, rcv2, deliveryTimeout, s.diag)
	dst6 := netip.AddrPortFrom(group6, 6000)
	rcv1v6 := openReceiver(t, s.listener, "l_gw", dst6)
	rcv2v6 := openReceiver(t, s.listener2, "l_gw", dst6)
	snd6 := openSender(t, s.source, sourceV6.Addr(), "src_relay", dst6)
	expectDelivery(t, snd6, rcv1v6, deliveryTimeout, s.diag)
	expectDelivery(t, snd6, rcv2v6, deliveryTimeout, s.diag)
	s.checkKernelLog(t)
}

func TestIntegrationAMTMaxTunnels(t *testing.T) {
	runSuite(t, setupKmsgSuite(amtOptions{twoGateways: true, maxTunnels: 1}),
		suiteCase[*kmsgSuite]{"max_tunnels 1 serves one of two gateways", testMaxTunnels},
	)
}

// maxTunnelsWatch is how long, after the first delivery, the case keeps
// sending to show that the second gateway stays unserved. The refused
// gateway retries its request at once on every ICMP error (amt_err_lookup),
// so this spans many attempts.
const maxTunnelsWatch = 5 * time.Second

// testMaxTunnels: with max_tunnels 1 the relay answers the second gateway's
// request with an ICMP error (amt_request_handler), so exactly one listener
// gets data. The same two-gateway topology with max_tunnels 4 serves both
// (testTwoGateways), so the silence here is the limit, not the wiring.
func testMaxTunnels(t *testing.T, s *kmsgSuite) {
	dst := netip.AddrPortFrom(group4, 4000)
	rcvs := []*receiver{
		openReceiver(t, s.listener, "l_gw", dst),
		openReceiver(t, s.listener2, "l_gw", dst),
	}
	snd := openSender(t, s.source, sourceV4.Addr(), "src_relay", dst)
	tag := token("max-tunnels")

	// Count, per listener, the datagrams of this case that arrive.
	var mu sync.Mutex
	got := make([]int, len(rcvs))
	first := make(chan int, len(rcvs))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range rcvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := r.recv(time.Now().Add(sendInterval))
				select {
				case <-stop:
					return
				default:
				}
				if err != nil || !bytes.HasPrefix(d.payload, tag) {
					continue
				}
				mu.Lock()
				got[i]++
				if got[i] == 1 {
					first <- i
				}
				mu.Unlock()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	deadline := time.Now().Add(deliveryTimeout)
	winner := -1
	var watchEnd time.Time
	for seq := 0; ; seq++ {
		now := time.Now()
		if winner < 0 && now.After(deadline) {
			t.Fatalf("neither gateway delivered anything within %v: the relay with max_tunnels 1 served nobody; %s", deliveryTimeout, s.diag())
		}
		if winner >= 0 && now.After(watchEnd) {
			break
		}
		if err := snd.send(fmt.Appendf(append([]byte(nil), tag...), "seq=%d", seq)); err != nil {
			t.Fatal(err)
		}
		select {
		case i := <-first:
			if winner < 0 {
				winner = i
				watchEnd = time.Now().Add(maxTunnelsWatch)
			}
		case <-time.After(sendInterval):
		}
	}
	mu.Lock()
	counts := append([]int(nil), got...)
	mu.Unlock()
	t.Logf("datagrams received: listener %d, listener2 %d (gateway%d holds the only tunnel)", counts[0], counts[1], winner+1)
	if counts[0] > 0 && counts[1] > 0 {
		t.Fatalf("both listeners received data (%d and %d datagrams) from a relay created with max_tunnels 1", counts[0], counts[1])
	}
	s.checkKernelLog(t)
}

func TestIntegrationAMTLifecycle(t *testing.T) {
	runSuite(t, setupKmsgSuite(amtOptions{}),
		suiteCase[*kmsgSuite]{"amtctl metrics: kernel counters, relay state, promtool", func(t *testing.T, s *kmsgSuite) { testMetrics(t, s.amtTopology) }},
		suiteCase[*kmsgSuite]{"relay re-created: gateway reconnects, data flows", testRelayRecreated},
		suiteCase[*kmsgSuite]{"lower device deleted: amt links go away cleanly", testLowerDeleted},
	)
}

// rediscoveryTimeout bounds the gateway's recovery after the relay came
// back. Its next request reaches the new relay, which knows no tunnel for it
// and opens one; if requests keep failing meanwhile, the gateway gives up
// after AMT_MAX_REQ_COUNT of them, falls back to discovery and starts over.
const rediscoveryTimeout = 60 * time.Second

func testRelayRecreated(t *testing.T, s *kmsgSuite) {
	dst := netip.AddrPortFrom(group4, 4000)
	rcv := openReceiver(t, s.listener, "l_gw", dst)
	snd := openSender(t, s.source, sourceV4.Addr(), "src_relay", dst)
	expectDelivery(t, snd, rcv, deliveryTimeout, s.diag)

	if err := s.rl.Delete(relayDev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rl.Get(relayDev); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after deleting %s, Get says %v, want not found", relayDev, err)
	}
	// The kernel dropped amtr's VIF with the device; start the routers
	// afresh, as a restarted smcroute would.
	s.mr4.Close()
	s.mr6.Close()
	var err error
	if s.mr4, err = newMrouter(s.relay, false); err != nil {
		t.Fatal(err)
	}
	if s.mr6, err = newMrouter(s.relay, true); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, err := range []error{
		s.createRelay(relayMaxTuns),
		s.mr4.route(sourceV4.Addr(), group4, "relay_src", relayDev),
		s.mr6.route(sourceV6.Addr(), group6, "relay_src", relayDev),
		s.relay.up(relayDev),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := expectDelivery(t, snd, rcv, rediscoveryTimeout, s.diag)
	s.waitDiscovered(t, s.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
	t.Logf("data flowed again %v after the relay was re-created", took.Round(time.Millisecond))
	// And IPv6 over the new relay too.
	dst6 := netip.AddrPortFrom(group6, 6000)
	rcv6 := openReceiver(t, s.listener, "l_gw", dst6)
	snd6 := openSender(t, s.source, sourceV6.Addr(), "src_relay", dst6)
	expectDelivery(t, snd6, rcv6, rediscoveryTimeout-time.Since(start), s.diag)
	s.checkKernelLog(t)
}

// linkGoneTimeout bounds how long the kernel may take to remove an AMT link
// after its lower device was deleted (it does so in the same notifier call).
const linkGoneTimeout = 10 * time.Second

func testLowerDeleted(t *testing.T, s *kmsgSuite) {
	// Deleting gw_relay deletes its veth peer relay_gw too: amtg and amtr
	// both lose their lower device at once.
	if err := s.gateway.delLink("gw_relay"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		ns   *netns
		get  func(string) error
		name string
	}{
		{s.gateway, func(n string) error { _, err := s.gw.Get(n); return err }, gatewayDev},
		{s.relay, func(n string) error { _, err := s.rl.Get(n); return err }, relayDev},
	} {
		deadline := time.Now().Add(linkGoneTimeout)
		for {
			err := w.get(w.name)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				t.Fatalf("%s: Get %s: %v", w.ns, w.name, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s still exists %v after its lower device was deleted", w.ns, w.name, linkGoneTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The bridge amtg was a port of must be intact and still forward.
	br, err := s.gateway.link("br0")
	if err != nil {
		t.Fatalf("br0 went away with amtg: %v", err)
	}
	if _, err := s.gateway.link("gw_l"); err != nil {
		t.Fatal(err)
	}
	t.Logf("amtg and amtr are gone; br0 (index %d) remains", br.Index)
	// A new gateway can be made on a new lower device right away.
	if err := s.gateway.addVeth("gw_relay", s.relay, "relay_gw"); err != nil {
		t.Fatal(err)
	}
	if err := createGateway(s.gw, s.gateway, gwUpV4.Addr()); err != nil {
		t.Fatalf("re-creating amtg on a new gw_relay: %v", err)
	}
	s.checkKernelLog(t)
}
