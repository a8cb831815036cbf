package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/amtmetrics/serving"
	"github.com/spf13/cobra"
)

const metricsLong = `Serve the AMT links of one or more network namespaces as Prometheus metrics
on http://ADDR/metrics, and "ok" on /healthz, until interrupted (Ctrl-C,
SIGINT or SIGTERM end it with exit status 0).

Per amt link: the kernel's receive and transmit packets, bytes, errors and
drops (amt_link_*_total), whether it is up (amt_link_up), its parameters
(amt_link_info: mode, dev, local, discovery, ports, max_tunnels as labels)
and, for a gateway, whether it knows its relay and which
(amt_gateway_relay_known{relay="..."}). Per namespace: relay-discovered,
relay-changed and relay-lost events since the start (amt_relay_*_total),
whether it could be read (amt_netns_up) and how often it went away
(amt_netns_gone_total). Every series has a netns label: the -n value, or ""
for the current namespace (the default when no -n is given; -n "" adds it
to named ones). README.md lists every metric.

A scrape costs one kernel dump of the amt links per namespace, whatever
their number. The kernel sends nothing when a gateway finds or loses its
relay, so while gateways exist each namespace is polled every --interval
for the relay events, as amtctl monitor does.

A namespace that is not there at the start is an error (exit 2). One that
goes away later (ip netns del) is let go of: its series vanish,
amt_netns_up{netns="NAME"} is 0, a line on stderr says so, and it is picked
up again when it comes back; the server keeps running.`

func newMetricsCommand(o *options) *cobra.Command {
	var (
		listen   string
		netns    []string
		interval time.Duration
	)
	c := &cobra.Command{
		Use:   "metrics --listen ADDR [-n NS]...",
		Short: "Serve AMT link counters and relay state as Prometheus metrics",
		Long:  metricsLong,
		Example: `  amtctl metrics --listen :9477
  amtctl metrics --listen 127.0.0.1:9477 -n gw1 -n gw2 -n ""
  curl -s localhost:9477/metrics | grep amt_gateway_relay_known`,
		Args:              noArgs("metrics", "amtctl metrics --listen ADDR [-n NS]... [--interval D]"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkListen(listen); err != nil {
				return err
			}
			if interval < minInterval {
				return usagef("--interval %s: too short; use %s or more, such as 200ms (how late relay events may be counted)", interval, minInterval)
			}
			if !c.Flags().Changed("netns") {
				netns = []string{""}
			}
			seen := map[string]bool{}
			for _, ns := range netns {
				if seen[ns] {
					return usagef("-n %q is given twice; name each network namespace once", ns)
				}
				seen[ns] = true
			}
			return o.runMetrics(c, listen, netns, interval)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "", "address to serve on, HOST:PORT with HOST an IP address or empty (all): :9477, 127.0.0.1:9477, [::1]:9477")
	// -n here is repeatable; it shadows the global -n, which takes one.
	f.StringArrayVarP(&netns, "netns", "n", nil, `network namespace to expose, repeatable: a name in /run/netns, an absolute path such as /proc/PID/ns/net, or "" for the current one (the default)`)
	f.DurationVar(&interval, "interval", amtlink.DefaultPollInterval, "how often gateways are polled for their relay (the kernel sends no notification for it)")
	_ = c.RegisterFlagCompletionFunc("netns", o.completeNetNS)
	return c
}

// checkListen checks --listen before anything is opened: HOST:PORT, HOST
// empty, an IP address or localhost (never a name to resolve), PORT a
// number.
func checkListen(listen string) error {
	const fix = "give HOST:PORT, such as :9477, 127.0.0.1:9477 or [::1]:9477"
	if listen == "" {
		return usagef("metrics: --listen is required; %s", fix)
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("metrics: --listen %q: not HOST:PORT; %s", listen, fix)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return usagef("metrics: --listen %q: port %q is not a number from 0 to 65535; %s", listen, port, fix)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return usagef("metrics: --listen %q: host %q is not an IP address; %s", listen, host, fix)
		}
	}
	return nil
}

// metricsWhere names a namespace in metrics' lines.
func metricsWhere(ns string) string {
	if ns == "" {
		return "the current network namespace"
	}
	return fmt.Sprintf("network namespace %q", ns)
}

func (o *options) runMetrics(c *cobra.Command, listen string, netns []string, interval time.Duration) error {
	if o.metricsServer == nil {
		return o.execMetrics()
	}
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.metricsSignals != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-o.metricsSignals:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	stderr := c.ErrOrStderr()
	failed, openFailed := "", false // the namespace the server could not open
	err := o.metricsServer(ctx, serving.Request{
		Listen: listen,
		Open: func(ns string) (serving.Source, error) {
			b, err := o.open(ns)
			if err != nil {
				failed, openFailed = ns, true
				return nil, err
			}
			return b, nil
		},
		NetNS:        netns,
		PollInterval: interval,
		Recheck:      o.metricsRecheck,
		Report:       func(r serving.Report) { fmt.Fprintln(stderr, "amtctl: "+metricsReport(r)) },
		Ready: func(addr net.Addr) {
			fmt.Fprintf(stderr, "amtctl: serving amt metrics of %s at http://%s/metrics; stop with Ctrl-C\n", metricsSpaces(netns), addr)
			if o.metricsReady != nil {
				o.metricsReady(addr.String())
			}
		},
	})
	var le *serving.ListenError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return runErrf("metrics: --listen %s: %v; pick another address or port", listen, errors.Unwrap(le.Err))
	case openFailed:
		return metricsOpenError(err, failed)
	}
	return runErrf("metrics: %v", err)
}

// metricsSpaces names the namespaces served, for the ready line.
func metricsSpaces(netns []string) string {
	if len(netns) == 1 {
		return metricsWhere(netns[0])
	}
	return fmt.Sprintf("%d network namespaces", len(netns))
}

// metricsOpenError words the failure to open the namespace ns at the
// start: one that does not exist, or a name ip netns would refuse, is bad
// input (exit 2); anything else, such as missing privileges, is worded as
// every command words it (exit 1).
func metricsOpenError(err error, ns string) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return usagef("metrics: -n: %s", oneLine(err))
	}
	return failure{op: "metrics", netns: ns, shown: ns}.error(err)
}

// metricsReport is the line metrics prints for r, without "amtctl: ".
func metricsReport(r serving.Report) string {
	where := metricsWhere(r.NetNS)
	switch r.Kind {
	case serving.ReportGone:
		return where + " is gone (ip netns del?); its metrics are dropped until it is back"
	case serving.ReportBack:
		return where + " is back; its metrics are served again"
	case serving.ReportListFailed:
		return oneLine(failure{op: "list", netns: r.NetNS, shown: r.NetNS}.error(r.Err)) + "; amt_netns_up is 0 until it works again"
	case serving.ReportWatchFailed:
		return oneLine(failure{op: "watch", netns: r.NetNS, shown: r.NetNS}.error(r.Err)) + "; tried again shortly, relay events meanwhile are not counted"
	case serving.ReportRecovered:
		return where + " can be read and watched again"
	}
	return where + ": " + r.Kind.String()
}
