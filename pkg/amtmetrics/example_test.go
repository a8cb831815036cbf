package amtmetrics

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// A Collector registered in a registry of one's own. Open gives each
// namespace's Source; in amtctl it is the backend of -n, here a fake
// namespace "gw" with a gateway that found its relay 10.0.0.1.
func ExampleNew() {
	gw := newFakeSource(gatewayLink(5, "amtg", 42, netip.MustParseAddr("10.0.0.1")))
	c, err := New(Options{
		Open: func(netns string) (Source, error) {
			if netns != "gw" {
				return nil, fmt.Errorf("network namespace %q not found", netns)
			}
			return gw, nil
		},
		NetNS: []string{"gw"},
		Report: func(r Report) {
			fmt.Println(r.Kind, r.NetNS, r.Err)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	mfs, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "amt_gateway_relay_known") || strings.HasPrefix(l, "amt_link_receive_packets_total") || strings.HasPrefix(l, "amt_netns_up") {
			fmt.Println(l)
		}
	}
	// Output:
	// amt_gateway_relay_known{link="amtg",netns="gw",relay="10.0.0.1"} 1
	// amt_link_receive_packets_total{link="amtg",netns="gw"} 42
	// amt_netns_up{netns="gw"} 1
}
