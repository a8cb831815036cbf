//go:build linux

package amtlink

import (
	"fmt"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// BenchmarkIntegrationReceive compares the client's own reply reading
// (exec: one recvmsg per reply; dump: 32 KiB chunks) with
// netlink.Conn.Execute (a one-page peek before every read) on a real socket,
// in a namespace of 300 veths. Needs root.
func BenchmarkIntegrationReceive(b *testing.B) {
	testenv.RequireRoot(b)
	n := newTestNS(b)
	for i := range 150 {
		n.addVeth(b, fmt.Sprintf("va%d", i), fmt.Sprintf("vb%d", i), n)
	}
	c := n.c.c
	lreq, err := lightRequest(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: n.index(b, "va75")})
	if err != nil {
		b.Fatal(err)
	}
	lookup := netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: lreq}
	dreq := make([]byte, unix.SizeofIfInfomsg)
	for _, bc := range []struct {
		name string
		fn   func() (int, error)
	}{
		{"lookup/netlink.Conn", func() (int, error) { m, err := c.c.Execute(lookup); return len(m), err }},
		{"lookup/exec", func() (int, error) { m, err := c.exec(lookup); return len(m), err }},
		{"dump/netlink.Conn", func() (int, error) {
			m, err := c.c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: dreq})
			return len(m), err
		}},
		{"dump/dump", func() (int, error) {
			k := 0
			err := c.dump(unix.RTM_GETLINK, dreq, func(netlink.Message) error { k++; return nil })
			return k, err
		}},
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
