package amtmetrics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/amtmetrics/serving"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is one namespace's amt links as the Collector reads them
// (serving.Source, its home).
type Source = serving.Source

// Opener opens the Source of a namespace (serving.Opener).
type Opener = serving.Opener

// DefaultRecheck is how often a Collector checks whether its namespaces
// are gone, or back, when Options.Recheck is 0.
const DefaultRecheck = 2 * time.Second

// Options configure a Collector.
type Options struct {
	// Open opens each namespace's Source. Required.
	Open Opener
	// NetNS lists the namespaces to expose, as Open takes them; each is
	// also the value of the netns label. Empty means the caller's own
	// namespace only ("").
	NetNS []string
	// PollInterval is Watch's: how often gateways are asked for their
	// relay; 0 means amtlink.DefaultPollInterval.
	PollInterval time.Duration
	// Recheck is how often the namespaces are checked for being gone or
	// back, besides at every scrape; 0 means DefaultRecheck.
	Recheck time.Duration
	// Report, when not nil, is told when a namespace goes or comes back,
	// and when reading or watching one fails: once per change, not at
	// every scrape. It is called from the Collector's goroutines, one at
	// a time.
	Report func(Report)
}

// ReportKind says what a Report is about (serving.ReportKind).
type ReportKind = serving.ReportKind

// The kinds of Report; serving documents each.
const (
	ReportGone        = serving.ReportGone
	ReportBack        = serving.ReportBack
	ReportListFailed  = serving.ReportListFailed
	ReportWatchFailed = serving.ReportWatchFailed
	ReportRecovered   = serving.ReportRecovered
)

// Report is one change in a namespace's state, for logging
// (serving.Report).
type Report = serving.Report

// Collector is a prometheus.Collector of the amt links of its namespaces.
// It is safe for concurrent use; scrapes are served one at a time.
type Collector struct {
	opt    Options
	mu     sync.Mutex // serialises scrapes, rechecks, Close and the spaces' sources
	spaces []*space
	closed bool
	stop   context.CancelFunc
	done   chan struct{} // closed when the recheck loop has ended
	d      descs
	report sync.Mutex // one Report at a time
}

// space is one namespace of the Collector.
type space struct {
	name string
	src  Source // nil while gone
	// watching: the Watch goroutine, its cancel and its end.
	cancel  context.CancelFunc
	watched chan struct{}
	// failing is set while list or watch fails, so each failure is
	// reported once.
	listFailing  bool
	watchFailing atomic.Bool
	watchErr     atomic.Pointer[error] // the last Watch error, for the recheck
	// counts of Watch's events; they start at 0 with each new source.
	discovered, changed, lost, resyncs atomic.Uint64
	gone                               uint64 // times found gone
}

// New opens every namespace of opt.NetNS and starts watching each, and
// returns the Collector. If a namespace cannot be opened, New closes those
// it opened and returns the error of Open, wrapped with the namespace:
// a name that does not exist at the start is a mistake, not a namespace
// that went away.
func New(opt Options) (*Collector, error) {
	if opt.Open == nil {
		return nil, errors.New("amtmetrics: Options.Open is nil")
	}
	if len(opt.NetNS) == 0 {
		opt.NetNS = []string{""}
	}
	if opt.Recheck <= 0 {
		opt.Recheck = DefaultRecheck
	}
	c := &Collector{opt: opt, done: make(chan struct{})}
	c.d = newDescs()
	seen := map[string]bool{}
	for _, name := range opt.NetNS {
		if seen[name] {
			c.closeSources()
			return nil, fmt.Errorf("amtmetrics: network namespace %q is given twice", name)
		}
		seen[name] = true
		src, err := opt.Open(name)
		if err != nil {
			c.closeSources()
			return nil, err
		}
		s := &space{name: name}
		c.spaces = append(c.spaces, s)
		c.attach(s, src)
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go c.recheckLoop(ctx)
	return c, nil
}

// closeSources closes every source New opened so far.
func (c *Collector) closeSources() {
	for _, s := range c.spaces {
		c.detach(s)
	}
}

// attach makes src the source of s and starts watching it. c.mu is held
// (or c is not shared yet).
func (c *Collector) attach(s *space, src Source) {
	s.src = src
	s.discovered.Store(0)
	s.changed.Store(0)
	s.lost.Store(0)
	s.resyncs.Store(0)
	s.listFailing = false
	c.startWatch(s)
}

// startWatch runs Watch on s's source in a goroutine of its own.
func (c *Collector) startWatch(s *space) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.watched = make(chan struct{})
	s.watchErr.Store(nil)
	src, done := s.src, s.watched
	go func() {
		defer close(done)
		err := src.Watch(ctx, amtlink.WatchOptions{PollInterval: c.opt.PollInterval, Ready: func() {
			if s.watchFailing.CompareAndSwap(true, false) {
				c.tell(Report{Kind: ReportRecovered, NetNS: s.name})
			}
		}}, func(e amtlink.Event) error {
			switch e.Type {
			case amtlink.EventRelayDiscovered:
				s.discovered.Add(1)
			case amtlink.EventRelayChanged:
				s.changed.Add(1)
			case amtlink.EventRelayLost:
				s.lost.Add(1)
			case amtlink.EventResynced:
				s.resyncs.Add(1)
			}
			return nil
		})
		if ctx.Err() != nil {
			return // stopped
		}
		if err == nil {
			err = errors.New("watch ended")
		}
		s.watchErr.Store(&err)
		if s.watchFailing.CompareAndSwap(false, true) {
			c.tell(Report{Kind: ReportWatchFailed, NetNS: s.name, Err: err})
		}
	}()
}

// stopWatch ends s's Watch and waits for it.
func (s *space) stopWatch() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.watched
	s.cancel, s.watched = nil, nil
}

// detach stops watching s and closes its source. c.mu is held.
func (c *Collector) detach(s *space) {
	s.stopWatch()
	if s.src != nil {
		s.src.Close()
		s.src = nil
	}
}

func (c *Collector) tell(r Report) {
	if c.opt.Report == nil {
		return
	}
	c.report.Lock()
	defer c.report.Unlock()
	c.opt.Report(r)
}

func (c *Collector) recheckLoop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opt.Recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.mu.Lock()
			if !c.closed {
				c.recheck()
			}
			c.mu.Unlock()
		}
	}
}

// recheck lets go of the namespaces that are gone, opens again those that
// are back, and restarts a Watch that failed. c.mu is held.
func (c *Collector) recheck() {
	for _, s := range c.spaces {
		switch {
		case s.src != nil && s.src.NetNSGone():
			c.detach(s)
			s.gone++
			c.tell(Report{Kind: ReportGone, NetNS: s.name})
		case s.src == nil:
			src, err := c.opt.Open(s.name)
			if err != nil {
				continue // still gone; said once
			}
			c.attach(s, src)
			c.tell(Report{Kind: ReportBack, NetNS: s.name})
		case s.watchErr.Load() != nil:
			s.stopWatch()
			c.startWatch(s)
		}
	}
}

// Describe sends the descriptors of every metric the Collector exposes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all {
		ch <- d
	}
}

// Collect reads every namespace's amt links, one List each, and sends
// their metrics. A namespace that is gone, or whose links cannot be read,
// sends only amt_netns_up 0 (and its amt_netns_gone_total).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.recheck()
	d := &c.d
	for _, s := range c.spaces {
		ch <- prometheus.MustNewConstMetric(d.gone, prometheus.CounterValue, float64(s.gone), s.name)
		up := 0.0
		if s.src != nil {
			links, err := s.src.List()
			switch {
			case err != nil && !s.listFailing:
				s.listFailing = true
				c.tell(Report{Kind: ReportListFailed, NetNS: s.name, Err: err})
			case err == nil && s.listFailing:
				s.listFailing = false
				c.tell(Report{Kind: ReportRecovered, NetNS: s.name})
			}
			if err == nil {
				up = 1
				c.collectSpace(ch, d, s, links)
			}
		}
		ch <- prometheus.MustNewConstMetric(d.netnsUp, prometheus.GaugeValue, up, s.name)
	}
}

// descs are the Collector's descriptors by what they describe, and all
// of them, in the order of Metrics, for Describe.
type descs struct {
	stats                                                        []*prometheus.Desc
	up, info, known, disc, changed, lost, resyncs, netnsUp, gone *prometheus.Desc
	all                                                          []*prometheus.Desc
}

func newDescs() descs {
	d := descs{
		up: mLinkUp.desc(), info: mLinkInfo.desc(), known: mRelayKnown.desc(), disc: mDiscovered.desc(),
		changed: mChanged.desc(), lost: mLost.desc(), resyncs: mResyncs.desc(), netnsUp: mNetNSUp.desc(), gone: mNetNSGone.desc(),
	}
	for _, m := range statMetrics {
		d.stats = append(d.stats, m.desc())
	}
	d.all = append(append(d.all, d.stats...), d.up, d.info, d.known, d.disc, d.changed, d.lost, d.resyncs, d.netnsUp, d.gone)
	return d
}

// collectSpace sends the metrics of s's links and relay counts.
func (c *Collector) collectSpace(ch chan<- prometheus.Metric, d *descs, s *space, links []amtlink.Link) {
	ns := s.name
	for _, n := range []struct {
		d *prometheus.Desc
		v uint64
	}{{d.disc, s.discovered.Load()}, {d.changed, s.changed.Load()}, {d.lost, s.lost.Load()}, {d.resyncs, s.resyncs.Load()}} {
		ch <- prometheus.MustNewConstMetric(n.d, prometheus.CounterValue, float64(n.v), ns)
	}
	for i := range links {
		l := &links[i]
		if l.Stats != nil {
			for j, v := range statValues(l.Stats) {
				ch <- prometheus.MustNewConstMetric(d.stats[j], prometheus.CounterValue, float64(v), ns, l.Name)
			}
		}
		up := 0.0
		if l.Up() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, up, ns, l.Name)
		ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, infoValues(ns, l)...)
		if l.AMT.Mode != nil && *l.AMT.Mode == ifla.ModeGateway {
			v, relay := 0.0, ""
			if r, ok := l.Relay(); ok {
				v, relay = 1, r.String()
			}
			ch <- prometheus.MustNewConstMetric(d.known, prometheus.GaugeValue, v, ns, l.Name, relay)
		}
	}
}

// statValues are the counters of statMetrics, in its order.
func statValues(s *rtnetlink.LinkStats64) [8]uint64 {
	return [8]uint64{s.RXPackets, s.RXBytes, s.RXErrors, s.RXDropped, s.TXPackets, s.TXBytes, s.TXErrors, s.TXDropped}
}

// infoValues are amt_link_info's label values for l, in infoLabels' order;
// a value the kernel did not report is "".
func infoValues(ns string, l *amtlink.Link) []string {
	a := &l.AMT
	mode := ""
	if a.Mode != nil {
		mode = a.Mode.String()
	}
	dev := l.LowerName
	if dev == "" && a.Link != nil {
		dev = "ifindex " + strconv.FormatUint(uint64(*a.Link), 10)
	}
	addr := func(p interface {
		IsValid() bool
		String() string
	}) string {
		if !p.IsValid() {
			return ""
		}
		return p.String()
	}
	u := func(p *uint16) string {
		if p == nil {
			return ""
		}
		return strconv.FormatUint(uint64(*p), 10)
	}
	maxTun := ""
	if a.MaxTunnels != nil {
		maxTun = strconv.FormatUint(uint64(*a.MaxTunnels), 10)
	}
	return []string{ns, l.Name, mode, dev, addr(a.Local), addr(a.Discovery), u(a.RelayPort), u(a.GatewayPort), maxTun}
}

// Close stops watching and closes every namespace's source. The Collector
// exposes nothing afterwards.
func (c *Collector) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stop()
	c.mu.Unlock()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeSources()
	return nil
}
