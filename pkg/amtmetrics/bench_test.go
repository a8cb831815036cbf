package amtmetrics

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// BenchmarkCollect1000 is one scrape of a namespace with 1,000 gateway
// links, on a fake source: the collector and the text exposition, what
// /metrics costs besides the kernel's dump. lists/op is how many times the
// source was listed per scrape (1: one dump, never a request per link).
func BenchmarkCollect1000(b *testing.B) {
	links := make([]amtlink.Link, 1000)
	for i := range links {
		links[i] = gatewayLink(uint32(100+i), fmt.Sprintf("amtg%d", i), uint64(i), netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	src := newFakeSource(links...)
	c, err := New(Options{Open: (&fakeSpaces{byName: map[string]*fakeSource{"": src}}).open, Recheck: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(src.lists)/float64(b.N), "lists/op")
}
