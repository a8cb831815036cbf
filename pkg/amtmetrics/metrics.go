package amtmetrics

import "github.com/prometheus/client_golang/prometheus"

// Metric describes one metric the Collector exposes: the table README.md's
// list for dashboards is checked against.
type Metric struct {
	Name   string
	Type   string // "counter" or "gauge", as the exposition's TYPE line says
	Labels []string
	Help   string
}

// Labels of every series.
var (
	linkLabels = []string{"netns", "link"}
	infoLabels = []string{"netns", "link", "mode", "dev", "local", "discovery", "relay_port", "gateway_port", "max_tunnels"}
	nsLabels   = []string{"netns"}
)

// The kernel's counters of an amt link (struct rtnl_link_stats64), one
// metric each.
var statMetrics = []Metric{
	{"amt_link_receive_packets_total", "counter", linkLabels, "Packets the amt link received (rx_packets): on a gateway, data and queries out of the tunnel; on a relay, requests and reports from gateways."},
	{"amt_link_receive_bytes_total", "counter", linkLabels, "Bytes the amt link received (rx_bytes)."},
	{"amt_link_receive_errors_total", "counter", linkLabels, "Receive errors the kernel counted on the amt link (rx_errors)."},
	{"amt_link_receive_dropped_total", "counter", linkLabels, "Received packets the amt link dropped (rx_dropped)."},
	{"amt_link_transmit_packets_total", "counter", linkLabels, "Packets the amt link sent (tx_packets): on a relay, multicast data into the tunnels; on a gateway, discovery, requests and membership reports."},
	{"amt_link_transmit_bytes_total", "counter", linkLabels, "Bytes the amt link sent (tx_bytes)."},
	{"amt_link_transmit_errors_total", "counter", linkLabels, "Transmit errors the kernel counted on the amt link (tx_errors)."},
	{"amt_link_transmit_dropped_total", "counter", linkLabels, "Packets the amt link dropped instead of sending (tx_dropped)."},
}

// The other metrics, in the order of Metrics.
var (
	mLinkUp     = Metric{"amt_link_up", "gauge", linkLabels, "1 when the amt link is administratively up (IFF_UP), 0 when down."}
	mLinkInfo   = Metric{"amt_link_info", "gauge", infoLabels, "Always 1: the amt link's parameters as labels (mode gateway or relay, lower device, local and discovery addresses, UDP ports, max_tunnels)."}
	mRelayKnown = Metric{"amt_gateway_relay_known", "gauge", []string{"netns", "link", "relay"}, `1 when the gateway has discovered its relay, named by the relay label; 0 (relay "") while it is still discovering.`}
	mDiscovered = Metric{"amt_relay_discovered_total", "counter", nsLabels, "Times a gateway of the namespace discovered its relay since the exporter started (relay-discovered events)."}
	mChanged    = Metric{"amt_relay_changed_total", "counter", nsLabels, "Times a gateway of the namespace changed from one relay to another since the exporter started (relay-changed events)."}
	mLost       = Metric{"amt_relay_lost_total", "counter", nsLabels, "Times a gateway of the namespace lost its relay since the exporter started (relay-lost events: the link went down or the relay stopped answering)."}
	mResyncs    = Metric{"amt_watch_resyncs_total", "counter", nsLabels, "Times the kernel dropped link notifications (ENOBUFS) and the links were listed again; relay events stay counted across them."}
	mNetNSUp    = Metric{"amt_netns_up", "gauge", nsLabels, "1 when the namespace's amt links were read in this scrape, 0 when the namespace is gone or could not be read."}
	mNetNSGone  = Metric{"amt_netns_gone_total", "counter", nsLabels, "Times the namespace was found gone (ip netns del, or its process exited) and let go of."}
)

// Metrics lists every metric the Collector exposes.
var Metrics = append(append([]Metric(nil), statMetrics...),
	mLinkUp, mLinkInfo, mRelayKnown, mDiscovered, mChanged, mLost, mResyncs, mNetNSUp, mNetNSGone)

// desc is m's prometheus descriptor.
func (m Metric) desc() *prometheus.Desc {
	return prometheus.NewDesc(m.Name, m.Help, m.Labels, nil)
}
