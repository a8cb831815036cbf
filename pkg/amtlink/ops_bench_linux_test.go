//go:build linux

package amtlink

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkWatchPoll measures one relay poll of Watch with n gateways: one
// filtered dump without statistics, whatever n is, decoded without name
// lookups.
func BenchmarkWatchPoll(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("gateways=%d", n), func(b *testing.B) {
			links := baseLinks()
			for i := 0; i < n; i++ {
				g := gatewayFake(uint32(100 + i))
				g.name = fmt.Sprintf("amtg%d", i)
				g.amt.Remote = netip.MustParseAddr("10.0.0.1")
				links = append(links, g)
			}
			k := newFakeKernel(b, links...)
			c := cannedClient(b, k, func(c *client) {
				if _, err := c.dumpAMT("watch", true); err != nil {
					b.Fatal(err)
				}
				if _, err := c.List(); err != nil {
					b.Fatal(err)
				}
			})
			w := &watcher{c: c, known: map[uint32]*Link{}, fn: func(Event) error { return nil }, now: time.Now}
			if err := w.resync(false); err != nil {
				b.Fatal(err)
			}
			if !w.hasGateway() || len(w.known) != n {
				b.Fatalf("watcher knows %d links, want %d gateways", len(w.known), n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.poll(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTransitions measures classifying one notification.
func BenchmarkTransitions(b *testing.B) {
	prev, cur := gwLink(5, "g", 0, "10.0.0.1"), gwLink(5, "g", 1, "10.0.0.9")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(transitions(prev, cur, true)) != 2 {
			b.Fatal("want 2 events")
		}
	}
}
