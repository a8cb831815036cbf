package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/amtctl/amtctl/pkg/mcprobe"
	"github.com/spf13/cobra"
)

// defaultProbePort is the UDP port probe and send use when none is given:
// iperf's, so that an iperf -u -B GROUP stream is probed with no port.
const defaultProbePort = 5001

// probeWord is one keyword of probe's grammar (GROUP [source S] [port P]
// [dev LINK]): its usage, parsing and completion come from this table.
type probeWord struct {
	name, arg, help string
	set             func(p *probeArgs, v string) error
	values          func(o *options) []string // completion; nil for a free value
}

// probeArgs is probe's (and, for GROUP and port, send's) command line.
type probeArgs struct {
	group  netip.Addr
	source netip.Addr // invalid: any source
	port   uint16
	dev    string
}

var probeWords = []probeWord{
	{name: "source", arg: "S", help: "join (S,G) with IGMPv3/MLDv2 INCLUDE; without it (*,G)",
		set: func(p *probeArgs, v string) error {
			a, err := netip.ParseAddr(v)
			if err != nil || a.Zone() != "" || a.IsMulticast() || a.IsUnspecified() {
				return &ifla.FieldError{Field: "source", Value: v, Reason: "not a unicast IP address", Fix: "give the multicast sender's address, such as 192.0.2.10 or 2001:db8::10"}
			}
			p.source = a.Unmap()
			return nil
		}},
	{name: "port", arg: "P", help: "the group's UDP port (default 5001)", // TestProbeSendHelpLiterals: defaultProbePort
		set: func(p *probeArgs, v string) (err error) {
			p.port, err = parseProbePort(v)
			return err
		}},
	{name: "dev", arg: "LINK", help: "the amt gateway (joined on its bridge, if any) or a device",
		set: func(p *probeArgs, v string) error {
			p.dev = v
			return amtlink.CheckName("dev", v)
		},
		values: (*options).deviceNames},
}

func parseProbePort(v string) (uint16, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return 0, &ifla.FieldError{Field: "port", Value: v, Reason: "not a UDP port", Fix: "use a number from 1 to 65535, or leave it out for " + strconv.Itoa(defaultProbePort)}
	}
	return uint16(n), nil
}

func parseGroup(v string) (netip.Addr, error) {
	g, err := netip.ParseAddr(v)
	if err != nil || g.Zone() != "" || !g.Unmap().IsMulticast() {
		return netip.Addr{}, &ifla.FieldError{Field: "group", Value: v, Reason: "not a multicast address", Fix: "give an IPv4 group in 224.0.0.0/4 such as 232.1.1.1, or an IPv6 one in ff00::/8 such as ff3e::1"}
	}
	return g.Unmap(), nil
}

// parseProbeArgs reads GROUP and probe's keywords.
func parseProbeArgs(args []string) (probeArgs, error) {
	p := probeArgs{port: defaultProbePort}
	if len(args) == 0 {
		return p, usagef("probe needs a group; usage: %s", probeUsage())
	}
	var err error
	if p.group, err = parseGroup(args[0]); err != nil {
		return p, err
	}
	seen := map[string]bool{}
	for i := 1; i < len(args); i++ {
		w := lookupProbeWord(args[i])
		switch {
		case w == nil:
			return p, usagef("probe: unknown keyword %q; usage: %s", args[i], probeUsage())
		case seen[w.name]:
			return p, usagef("probe: %s given twice", w.name)
		case i+1 == len(args):
			return p, usagef("probe: %s needs a value (%s); usage: %s", w.name, w.arg, probeUsage())
		}
		seen[w.name] = true
		i++
		if err := w.set(&p, args[i]); err != nil {
			return p, err
		}
	}
	if p.source.IsValid() && p.source.Is4() != p.group.Is4() {
		return p, &ifla.FieldError{Field: "source", Value: p.source.String(), Reason: "of another IP version than group " + p.group.String(), Fix: "give an IPv4 source for an IPv4 group, IPv6 for IPv6"}
	}
	return p, nil
}

func lookupProbeWord(name string) *probeWord {
	for i := range probeWords {
		if probeWords[i].name == name {
			return &probeWords[i]
		}
	}
	return nil
}

// probeUsage is probe's usage line, from the table; built when an error
// or the help needs it, never at start-up.
func probeUsage() string {
	s := "amtctl [-n NS] probe GROUP"
	for _, w := range probeWords {
		s += " [" + w.name + " " + w.arg + "]"
	}
	return s + " [--timeout D] [--count N] [-j]"
}

const probeLong = `Join a multicast group and report what arrives: the time to the first
datagram, datagrams and bytes per second and, for the numbered datagrams of
"amtctl send", how many were lost, duplicated or reordered (per sender; a
restarted sender is a new one). Anything else is counted too, without loss
figures.

With "source S" the join is source-specific, (S,G), through the kernel's
IGMPv3 / MLDv2 socket options; without it, (*,G). IPv4 and IPv6 groups.

dev names the amt gateway link; probe joins on the device where the link's
traffic reaches this host's sockets: the link itself or, when the link is a
bridge port, its bridge. dev may also name any other device to join on
(a listener's Ethernet behind the gateway). Without dev, probe joins on the
amt gateway link of the namespace when there is exactly one, else where the
routing table says.

Keywords:
%s
probe stops after --count datagrams (0: until the timeout or Ctrl-C), or
when --timeout has passed without one (waiting for the first, or since the
last), and prints one report; with -j one JSON object.

Exit status: 0 data came; 1 none did within the timeout, with one line on
what was and was not seen: whether the gateway (the amt link of dev, or the
amt gateway of the namespace when there is exactly one) has learned its relay,
whether that link counted anything received meanwhile, and whether the join
was sent; 2 bad input.`

func newProbeCommand(o *options) *cobra.Command {
	var timeout time.Duration
	var count uint64
	c := &cobra.Command{
		Use:         "probe GROUP [source S] [port P] [dev LINK] [--timeout D] [--count N]",
		Short:       "Join a multicast group and report what arrives (loss, rate, first datagram)",
		Annotations: map[string]string{describedLater: "probe"},
		Example: `  amtctl probe 232.1.1.1 source 192.0.2.10 port 5001 dev amtg
  amtctl -n gw probe ff3e::8000:1 source 2001:db8::10 --count 1000 -j`,
		Args: cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return o.completeProbe(args, toComplete)
		},
		RunE: func(c *cobra.Command, args []string) error {
			p, err := parseProbeArgs(args)
			if err != nil {
				return err
			}
			if timeout <= 0 {
				return &ifla.FieldError{Field: "--timeout", Value: timeout.String(), Reason: "not a positive duration", Fix: "give one such as 5s or 500ms"}
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.runProbe(ctx, c.OutOrStdout(), p, timeout, count)
		},
	}
	leaveFlags(c, func() {
		c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up after this long without a datagram (the first, or since the last)")
		c.Flags().Uint64Var(&count, "count", 100, "stop after this many datagrams; 0 waits for the timeout or Ctrl-C")
	})
	return c
}

// describeProbe writes probe's Long, with its keywords from the table.
func describeProbe(c *cobra.Command) {
	var words strings.Builder
	for _, w := range probeWords {
		words.WriteString("  " + w.name + " " + w.arg + strings.Repeat(" ", max(1, 13-len(w.name)-len(w.arg))) + w.help + "\n")
	}
	c.Long = strings.Replace(probeLong, "%s", words.String(), 1)
}

// completeProbe completes probe's keywords after GROUP, and device names
// after dev.
func (o *options) completeProbe(args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	used := map[string]bool{}
	var pending *probeWord
	for _, a := range args[1:] {
		if pending != nil {
			pending = nil
			continue
		}
		if w := lookupProbeWord(a); w != nil {
			used[w.name], pending = true, w
		}
	}
	if pending != nil {
		if pending.values == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return filterPrefix(pending.values(o), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	var rest []string
	for _, w := range probeWords {
		if !used[w.name] {
			rest = append(rest, w.name)
		}
	}
	return filterPrefix(rest, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// probePlace is where probe joins and which amt gateway it asks about.
type probePlace struct {
	joinDev string // "" lets the routing table choose
	ifindex int
	gateway string // the amt gateway link to diagnose; "" for none
	noGW    string // why there is none, for the line
}

// placeProbe decides, from dev and the namespace's links, where to join
// and which gateway to ask about (see probe's help).
func placeProbe(b Backend, dev, where string) (probePlace, error) {
	links, err := b.List()
	if err != nil {
		return probePlace{}, failure{op: "list", netns: where}.error(err)
	}
	isGateway := func(l amtlink.Link) bool { return l.AMT.Mode != nil && *l.AMT.Mode == ifla.ModeGateway }
	var gws []amtlink.Link
	for _, l := range links {
		if isGateway(l) {
			gws = append(gws, l)
		}
	}
	var pl probePlace
	joinOn := func(l amtlink.Link) {
		pl.gateway, pl.joinDev = l.Name, l.Name
		if l.Master != "" {
			pl.joinDev = l.Master
		}
	}
	switch {
	case dev != "":
		pl.joinDev = dev
		for _, l := range links {
			if l.Name == dev && isGateway(l) {
				joinOn(l)
			}
		}
		if pl.gateway == "" {
			var on []amtlink.Link
			for _, l := range gws {
				if l.Master == dev {
					on = append(on, l)
				}
			}
			if len(on) == 0 {
				on = gws
			}
			if len(on) == 1 {
				pl.gateway = on[0].Name
			}
		}
	case len(gws) == 1:
		joinOn(gws[0])
	}
	if pl.gateway == "" {
		switch len(gws) {
		case 0:
			pl.noGW = "no amt gateway link in " + nsWords(where) + " to ask about its relay"
		default:
			pl.noGW = fmt.Sprintf("%d amt gateway links in %s; name the one to ask about with dev", len(gws), nsWords(where))
		}
	}
	if pl.joinDev != "" {
		it, err := b.Interface(pl.joinDev)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return pl, runErrf("probe: dev %q not found in %s; see ip link show", pl.joinDev, nsWords(where))
			}
			return pl, runErrf("probe: dev %q: %v", pl.joinDev, err)
		}
		pl.ifindex = it.Index
	}
	return pl, nil
}

func nsWords(netns string) string {
	if netns == "" {
		return "this network namespace"
	}
	return fmt.Sprintf("network namespace %q", netns)
}

// gatewayState is what probe read of the gateway link at one moment.
type gatewayState struct {
	ok        bool
	err       error
	relay     netip.Addr // IFLA_AMT_REMOTE_IP; invalid while discovering
	discovery netip.Addr
	up        bool
	rx        uint64
}

func readGateway(b Backend, name string) gatewayState {
	if name == "" {
		return gatewayState{}
	}
	l, err := b.Get(name)
	if err != nil {
		return gatewayState{err: err}
	}
	s := gatewayState{ok: true, relay: l.AMT.Remote, discovery: l.AMT.Discovery, up: l.Up()}
	if l.Stats != nil {
		s.rx = l.Stats.RXPackets
	}
	return s
}

func (o *options) runProbe(ctx context.Context, w io.Writer, p probeArgs, timeout time.Duration, count uint64) error {
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	pl, err := placeProbe(b, p.dev, o.netns)
	if err != nil {
		return err
	}
	cfg, closeNS, err := o.socketConfig()
	if err != nil {
		return err
	}
	defer closeNS()
	before := readGateway(b, pl.gateway)
	dst := netip.AddrPortFrom(p.group, p.port)
	r, err := mcprobe.Listen(cfg, dst, pl.ifindex)
	if err != nil {
		return runErrf("probe %s: %v", dst, err)
	}
	defer r.Close()
	_ = r.SetReadBuffer(4 << 20) // best effort: bursts at 10,000/s; capped by net.core.rmem_max
	var watch *mcprobe.ReportWatch
	if pl.ifindex != 0 {
		// Best effort: without CAP_NET_RAW the line says it could not look.
		watch, _ = mcprobe.WatchReports(cfg, pl.ifindex, p.group)
	}
	if watch != nil {
		defer watch.Close()
	}
	start := time.Now()
	var joinErr error
	if p.source.IsValid() {
		joinErr = r.Join(p.source)
	} else {
		joinErr = r.Join()
	}
	if joinErr != nil {
		return runErrf("probe %s: %v", dst, joinErr)
	}
	tr := mcprobe.NewTracker(start)
	last := start
	var n uint64
	for count == 0 || n < count {
		deadline := last.Add(timeout)
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		if tick := time.Now().Add(200 * time.Millisecond); tick.Before(deadline) {
			deadline = tick // look at ctx now and then
		}
		d, err := r.Read(deadline)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			return runErrf("probe %s: receive: %v", dst, err)
		}
		tr.Add(d.From.Addr(), d.Payload, d.At)
		last = d.At
		n++
	}
	rep := tr.Report()
	v := probeView{Group: p.group.String(), Port: p.port, Device: pl.joinDev, Gateway: pl.gateway}
	if p.source.IsValid() {
		v.Source = p.source.String()
	}
	v.fill(rep)
	var line string
	if rep.Datagrams == 0 {
		after := readGateway(b, pl.gateway)
		reports := -1
		if watch != nil {
			reports = watch.Count()
		}
		waited := time.Since(start)
		if waited > timeout {
			waited = timeout // the rule was timeout's silence; the rest is the read's last tick
		}
		v.Diagnosis = diagnoseProbe(pl, before, after, reports, p, waited)
		line = v.Diagnosis.line
	}
	if o.json {
		if err := writeJSON(w, v, o.pretty); err != nil {
			return err
		}
	} else if rep.Datagrams > 0 {
		printProbe(w, v, rep)
	}
	if line != "" {
		return runErrf("%s", line)
	}
	return nil
}

// probeView is probe's JSON report.
type probeView struct {
	Group      string  `json:"group"`
	Source     string  `json:"source,omitempty"`
	Port       uint16  `json:"port"`
	Device     string  `json:"dev,omitempty"`
	Gateway    string  `json:"gateway,omitempty"`
	Datagrams  uint64  `json:"datagrams"`
	Bytes      uint64  `json:"bytes"`
	FirstAfter float64 `json:"first_after_s"`
	Span       float64 `json:"span_s"`
	DPS        float64 `json:"datagrams_per_s"`
	BPS        float64 `json:"bytes_per_s"`
	Unnumbered uint64  `json:"unnumbered"`
	// The sequence accounting of numbered datagrams (omitted when none
	// came).
	Received   *uint64        `json:"received,omitempty"`
	Lost       *uint64        `json:"lost,omitempty"`
	Duplicates *uint64        `json:"duplicates,omitempty"`
	Reordered  *uint64        `json:"reordered,omitempty"`
	Senders    []senderView   `json:"senders,omitempty"`
	Diagnosis  *probeDiagnose `json:"diagnosis,omitempty"`
}

type senderView struct {
	From       string `json:"from"`
	Session    string `json:"session"`
	First      uint32 `json:"first_seq"`
	Last       uint32 `json:"last_seq"`
	Received   uint64 `json:"received"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
}

func (v *probeView) fill(r mcprobe.Report) {
	v.Datagrams, v.Bytes, v.Unnumbered = r.Datagrams, r.Bytes, r.Unnumbered
	v.FirstAfter, v.Span = r.FirstAfter.Seconds(), r.Span.Seconds()
	v.DPS, v.BPS = r.DatagramsPerSecond, r.BytesPerSecond
	if len(r.Streams) == 0 {
		return
	}
	v.Received, v.Lost, v.Duplicates, v.Reordered = &r.Received, &r.Lost, &r.Duplicates, &r.Reordered
	for _, s := range r.Streams {
		v.Senders = append(v.Senders, senderView{From: s.From.String(), Session: fmt.Sprintf("%016x", s.Session),
			First: s.First, Last: s.Last, Received: s.Received, Lost: s.Lost, Duplicates: s.Duplicates, Reordered: s.Reordered})
	}
}

func printProbe(w io.Writer, v probeView, r mcprobe.Report) {
	what := v.Group
	if v.Source != "" {
		what = "(" + v.Source + ", " + v.Group + ")"
	}
	fmt.Fprintf(w, "%s port %d: first datagram after %v; %d datagrams, %d bytes in %v: %.0f datagrams/s, %.0f bytes/s\n",
		what, v.Port, r.FirstAfter.Round(time.Millisecond), r.Datagrams, r.Bytes, r.Span.Round(time.Millisecond), r.DatagramsPerSecond, r.BytesPerSecond)
	for _, s := range v.Senders {
		fmt.Fprintf(w, "sender %s session %s: sequence %d to %d, received %d, lost %d, duplicates %d, reordered %d\n",
			s.From, s.Session, s.First, s.Last, s.Received, s.Lost, s.Duplicates, s.Reordered)
	}
	if r.Unnumbered > 0 {
		fmt.Fprintf(w, "%d datagrams were not numbered (not from amtctl send): no loss figures for them\n", r.Unnumbered)
	}
}

// probeDiagnose is what probe saw when no datagram came.
type probeDiagnose struct {
	Gateway     string `json:"gateway,omitempty"`
	RelayKnown  bool   `json:"relay_known"`
	Relay       string `json:"relay,omitempty"`
	Discovery   string `json:"discovery,omitempty"`
	RXDelta     uint64 `json:"gateway_rx_packets_meanwhile"`
	JoinReports *int   `json:"join_reports_sent,omitempty"` // absent when probe could not look
	Explanation string `json:"explanation"`
	line        string
}

// diagnoseProbe words the one line of a probe that got nothing.
func diagnoseProbe(pl probePlace, before, after gatewayState, reports int, p probeArgs, took time.Duration) *probeDiagnose {
	d := &probeDiagnose{Gateway: pl.gateway}
	what := p.group.String()
	if p.source.IsValid() {
		what = "(" + p.source.String() + ", " + p.group.String() + ")"
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("no datagram for %s port %d within %v", what, p.port, took.Round(100*time.Millisecond)))
	proto := "IGMPv3"
	if p.group.Is6() {
		proto = "MLDv2"
	}
	on := pl.joinDev
	if on == "" {
		on = "the device the routing table picks"
	}
	switch {
	case reports > 0:
		parts = append(parts, fmt.Sprintf("join sent (%d %s reports for %s left %s)", reports, proto, p.group, on))
		d.JoinReports = &reports
	case reports == 0:
		parts = append(parts, fmt.Sprintf("join not sent: no %s report for %s left %s (is it up?)", proto, p.group, on))
		d.JoinReports = &reports
	case pl.ifindex == 0:
		parts = append(parts, fmt.Sprintf("joined on %s (no device given to watch for the report)", on))
	default:
		parts = append(parts, fmt.Sprintf("joined on %s (whether the report left was not watched: needs CAP_NET_RAW)", on))
	}
	switch {
	case pl.gateway == "":
		parts = append(parts, pl.noGW)
	case !after.ok:
		parts = append(parts, fmt.Sprintf("gateway %s: %v", pl.gateway, after.err))
	default:
		if before.ok && after.rx >= before.rx {
			d.RXDelta = after.rx - before.rx
		}
		if after.discovery.IsValid() {
			d.Discovery = after.discovery.String()
		}
		switch {
		case !after.up:
			parts = append(parts, fmt.Sprintf("gateway %s is down (amtctl set %s up)", pl.gateway, pl.gateway))
		case !after.relay.IsValid():
			parts = append(parts, fmt.Sprintf("gateway %s has not learned a relay (discovery %s unanswered) and received %d packets meanwhile; without a relay it passes no join on",
				pl.gateway, addrOrNone(after.discovery), d.RXDelta))
		default:
			d.RelayKnown, d.Relay = true, after.relay.String()
			parts = append(parts, fmt.Sprintf("gateway %s knows relay %s and received %d packets meanwhile, none for this group: the relay has no route or source for it, or the source sends nothing",
				pl.gateway, after.relay, d.RXDelta))
		}
	}
	d.line = "probe: " + strings.Join(parts, "; ")
	d.Explanation = d.line
	return d
}

// socketConfig is the mcprobe.Config of probe's and send's sockets: made
// inside -n's namespace. closeNS lets go of the namespace once they are
// closed.
func (o *options) socketConfig() (cfg *mcprobe.Config, closeNS func(), err error) {
	ns, err := openNetNS(o.netns)
	if err != nil {
		return nil, nil, runErr(err)
	}
	cfg = &mcprobe.Config{}
	if ns != nil {
		cfg.NetNS = ns.FD()
	}
	return cfg, func() { ns.Close() }, nil
}
