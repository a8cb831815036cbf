// Package amtmetrics exposes the Linux AMT links of one or more network
// namespaces as Prometheus metrics: a [prometheus.Collector] built on
// package amtlink, which [Serve] serves over HTTP (amtctl-metrics, the
// server of amtctl's "metrics" command) and any other Go program can
// register in its own registry.
//
// # Serving
//
// [Serve] is a serving.Server: subpackage serving holds what a server is
// asked and tells ([Source], [Report] and the request) without importing
// Prometheus or net/http, so that amtctl's command words every line while
// the amtctl binary links neither; the types are re-exported here under
// the same names.
//
// # What a scrape costs
//
// The Collector is a custom collector, not a set of registered gauges: each
// scrape asks each namespace's [Source] for its amt links once
// (amtlink.Client.List: one kernel dump filtered by kind "amt", which
// carries every link's counters, plus one name lookup per distinct lower
// device, never one request per link) and turns the answer into constant
// metrics. Nothing is cached between scrapes, so every value is the
// kernel's at scrape time. BenchmarkCollect1000 (a fake source) and
// BenchmarkIntegrationScrape1000 (the kernel, in the VM) measure a scrape
// of 1,000 links.
//
// # Relay events
//
// The kernel sends no notification when a gateway discovers, changes or
// loses its relay. The Collector runs amtlink's Watch in every namespace
// (which polls the gateways, one dump per poll interval while gateways
// exist) from [New] until [Collector.Close], and counts its relay-discovered,
// relay-changed and relay-lost events. When the kernel drops notifications
// (ENOBUFS), Watch lists the links again and reports the differences as
// ordinary events, so the counts stay right; the resyncs are counted too.
//
// # Namespaces
//
// Every series has a netns label: the namespace as given to [New]
// (a name from `ip netns list`, a path such as /proc/PID/ns/net) or ""
// (the same as no label, in Prometheus) for the caller's own namespace.
// A namespace that goes away (`ip netns del`, its process exits) is let go
// of, so the kernel can free it: its series vanish, amt_netns_up turns 0,
// amt_netns_gone_total counts it and [Options.Report] is told. It is
// looked for again every [Options.Recheck] and picked up when it is back.
//
// # Metrics
//
// The metric names, their types and labels are the constants and the
// [Metrics] table of this package; README.md lists them for dashboards.
package amtmetrics
