//go:build linux

package selftests

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// deliveryTimeout bounds every wait for a datagram to cross the topology.
// The first datagram through a fresh AMT tunnel needs discovery, a request,
// a membership query, the listener's report and the relay's state, each a
// work item or a timer in amt.c; in a TCG VM that can take several seconds.
const deliveryTimeout = 30 * time.Second

// sendInterval is how often expectDelivery sends while it waits.
const sendInterval = 200 * time.Millisecond

// openSender opens a sender or fails the test; it is closed in Cleanup.
func openSender(tb testing.TB, ns *netns, src netip.Addr, dev string, dst netip.AddrPort) *sender {
	tb.Helper()
	s, err := newSender(ns, src, dev, dst)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// openReceiver opens a receiver or fails the test; it is closed in Cleanup.
func openReceiver(tb testing.TB, ns *netns, dev string, group netip.AddrPort, sources ...netip.Addr) *receiver {
	tb.Helper()
	r, err := newReceiver(ns, dev, group, sources...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// token makes payloads no other case, run or retry sends.
func token(tag string) []byte {
	return []byte(fmt.Sprintf("amtctl-selftest %s %s ", tag, randomSuffix()))
}

// expectDelivery sends a datagram from snd every sendInterval until rcv has
// received one of them, from snd's address, or timeout has passed; then it
// fails the test saying what never happened and, through diag, what the
// devices on the way had seen. It returns how long delivery took.
//
// amt.sh instead sleeps 2 seconds, sends once and waits 15: polling never
// waits longer than needed and tells a slow path from a broken one.
func expectDelivery(tb testing.TB, snd *sender, rcv *receiver, timeout time.Duration, diag func() string) time.Duration {
	tb.Helper()
	took, err := deliver(tb, snd, rcv, timeout, diag)
	if err != nil {
		tb.Fatal(err)
	}
	return took
}

// deliver is expectDelivery returning the verdict as an error instead of
// failing tb; errors of the harness itself (a send failing) still fail tb.
func deliver(tb testing.TB, snd *sender, rcv *receiver, timeout time.Duration, diag func() string) (time.Duration, error) {
	tb.Helper()
	tag := token(fmt.Sprintf("from=%s", snd.src))
	start := time.Now()
	deadline := start.Add(timeout)
	sent := 0
	var others []string
	for time.Now().Before(deadline) {
		payload := fmt.Appendf(append([]byte(nil), tag...), "seq=%d", sent)
		if err := snd.send(payload); err != nil {
			tb.Fatal(err)
		}
		sent++
		wait := time.Now().Add(sendInterval)
		for {
			d, err := rcv.recv(wait)
			if isTimeout(err) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: receive on %s: %v", rcv.ns, rcv.group, err)
			}
			if bytes.HasPrefix(d.payload, tag) && d.from.Addr() == snd.src {
				took := time.Since(start)
				tb.Logf("%s -> %s: first datagram after %v (%d sent)", snd.src, snd.dst, took.Round(time.Millisecond), sent)
				return took, nil
			}
			if len(others) < 5 {
				others = append(others, fmt.Sprintf("%d bytes from %s", len(d.payload), d.from))
			}
		}
	}
	msg := fmt.Sprintf("no datagram sent from %s (%s) to %s reached the receiver in %s on %s within %v (%d sent, one every %v)",
		snd.src, snd.ns, snd.dst, rcv.ns, rcv.dev, timeout, sent, sendInterval)
	if len(others) > 0 {
		msg += fmt.Sprintf("; it received only unrelated datagrams: %v", others)
	}
	if diag != nil {
		msg += "; " + diag()
	}
	return 0, errors.New(msg)
}

// expectSilence checks that rcv receives nothing sent from the sender bad,
// while datagrams from good, sent after each of bad's, keep arriving. The
// marker from good travels the same path right behind bad's datagram, so
// once the marker is in, bad's datagram would have been too: no fixed
// sleep decides the outcome.
func expectSilence(tb testing.TB, bad, good *sender, rcv *receiver, rounds int, timeout time.Duration) {
	tb.Helper()
	badTag, goodTag := token("unwanted"), token("marker")
	deadline := time.Now().Add(timeout)
	got := 0
	for i := 0; i < rounds; i++ {
		if err := bad.send(fmt.Appendf(append([]byte(nil), badTag...), "seq=%d", i)); err != nil {
			tb.Fatal(err)
		}
		if err := good.send(fmt.Appendf(append([]byte(nil), goodTag...), "seq=%d", i)); err != nil {
			tb.Fatal(err)
		}
		for {
			d, err := rcv.recv(deadline)
			if isTimeout(err) {
				tb.Fatalf("marker datagrams from %s stopped arriving in %s after %d of %d rounds: the path broke, so silence from %s proves nothing",
					good.src, rcv.ns, got, rounds, bad.src)
			}
			if err != nil {
				tb.Fatal(err)
			}
			if bytes.HasPrefix(d.payload, badTag) {
				tb.Fatalf("%s received a datagram from %s (%s) that it must not get: %q", rcv.ns, d.from, bad.src, d.payload)
			}
			if bytes.HasPrefix(d.payload, goodTag) {
				got++
				break
			}
		}
	}
	tb.Logf("%d datagrams from %s were held back while %d markers from %s arrived", rounds, bad.src, got, good.src)
}
