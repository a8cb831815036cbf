//go:build linux

package amtlink

import (
	"fmt"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// BenchmarkIntegrationReceive compares the client's own reply reading
// (exchange: one recvfrom per datagram, dumps in 32 KiB chunks) with
// netlink.Conn.Execute (a one-page peek before every read) on a real socket,
// in a namespace of 300 veths. Needs root.
func BenchmarkIntegrationReceive(b *testing.B) {
	testenv.RequireRoot(b)
	n := newTestNS(b)
	for i := range 150 {
		n.addVeth(b, fmt.Sprintf("va%d", i), fmt.Sprintf("vb%d", i), n)
	}
	c := n.c.c
	nc, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: int(n.f.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	lreq := linkRequest(unix.RTM_GETLINK, flagsGet, n.index(b, "va75"), "", true)
	lookup := netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: lreq[nlwire.HeaderLen:]}
	dreq, start := linkMsg(nil, unix.RTM_GETLINK, flagsDump, 0, 0, 0)
	nlwire.Finish(dreq, start)
	count := func(k *int) func(reply) error { return func(reply) error { *k++; return nil } }
	for _, bc := range []struct {
		name string
		fn   func() (int, error)
	}{
		{"lookup/netlink.Conn", func() (int, error) { m, err := nc.Execute(lookup); return len(m), err }},
		{"lookup/exchange", func() (int, error) { k := 0; err := c.exchange(lreq, nil, count(&k)); return k, err }},
		{"dump/netlink.Conn", func() (int, error) {
			m, err := nc.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: dreq[nlwire.HeaderLen:]})
			return len(m), err
		}},
		{"dump/exchange", func() (int, error) { k := 0; err := c.exchange(dreq, nil, count(&k)); return k, err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := bc.fn()
				if err != nil || k == 0 {
					b.Fatalf("%d messages, %v", k, err)
				}
			}
		})
	}
}
