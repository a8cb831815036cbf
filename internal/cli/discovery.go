package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/driad"
	"github.com/amtctl/amtctl/pkg/ifla"
)

// A gateway's discovery address can come from a name instead of an
// address: "discovery driad:SOURCE" is the relay RFC 8777 (DRIAD) names for
// the multicast source SOURCE in DNS (its AMTRELAY records, package
// driad), and "discovery anycast" is RFC 7450 §7's anycast relay address,
// 192.52.193.1. The kernel keeps only the address, so amtctl writes where
// it came from into the link's interface alias (IFLA_IFALIAS, what "ip
// link set NAME alias TEXT" sets and "ip link show" prints), where show
// and apply read it back:
//
//	amtctl:driad=SOURCE   the address is DRIAD's relay for SOURCE
//	amtctl:anycast        the address is 192.52.193.1 by RFC 7450 §7
//
// SOURCE is the address as netip prints it (198.51.100.12, 2001:db8::12).
// An alias that does not start with "amtctl:" is the user's: amtctl never
// reads it as an origin, keeps it when apply re-creates the link for
// another reason, and says so when it replaces one.

// AnycastRelay is the anycast relay discovery address of RFC 7450 §7 (the
// first address of 192.52.193.0/24), what "discovery anycast" means.
var AnycastRelay = netip.MustParseAddr("192.52.193.1")

// aliasPrefix starts every alias amtctl writes.
const aliasPrefix = "amtctl:"

// origin is where a discovery address given by a name comes from.
type origin struct {
	// source is the multicast source of a driad: origin; the zero Addr
	// for anycast.
	source netip.Addr
}

// word is the origin as add and apply files write it: "driad:SOURCE" or
// "anycast".
func (o origin) word() string {
	if o.source.IsValid() {
		return "driad:" + o.source.String()
	}
	return "anycast"
}

// alias is the interface alias that records the origin.
func (o origin) alias() string {
	if o.source.IsValid() {
		return aliasPrefix + "driad=" + o.source.String()
	}
	return aliasPrefix + "anycast"
}

// originOf reads an alias amtctl wrote; ok is false for any other alias,
// the user's, which amtctl leaves alone.
func originOf(alias string) (o origin, ok bool) {
	rest, ours := strings.CutPrefix(alias, aliasPrefix)
	switch {
	case !ours:
		return origin{}, false
	case rest == "anycast":
		return origin{}, true
	}
	src, found := strings.CutPrefix(rest, "driad=")
	a, err := netip.ParseAddr(src)
	if !found || err != nil || a.Zone() != "" {
		return origin{}, false
	}
	return origin{source: a}, true
}

// ourAlias reports whether alias is one amtctl wrote (or "").
func ourAlias(alias string) bool {
	_, ok := originOf(alias)
	return ok || alias == ""
}

// fixDiscovery is what a bad discovery value should be instead.
const fixDiscovery = `use the relay's IPv4 address such as 192.0.2.1, "driad:SOURCE" (the relay DNS names for multicast source SOURCE, RFC 8777) or "anycast" (192.52.193.1, RFC 7450)`

// parseDiscovery parses the value of the discovery keyword into s: an
// address; "anycast"; or "driad:SOURCE", which leaves the address to be
// looked up when the link is made (lookupDiscovery). The origin goes into
// s.Alias; an address clears it.
func parseDiscovery(s *amtlink.Spec, v string) error {
	s.Alias = ""
	switch {
	case v == "anycast":
		s.AMT.Discovery, s.Alias = AnycastRelay, origin{}.alias()
		return nil
	case strings.HasPrefix(v, "driad:"):
		src, err := netip.ParseAddr(strings.TrimPrefix(v, "driad:"))
		if err != nil || src.Zone() != "" {
			return &ifla.FieldError{Field: "discovery", Value: v, Reason: "driad: needs the multicast source's IP address",
				Fix: "write driad:SOURCE with the sender's address, such as driad:198.51.100.12 or driad:2001:db8::12"}
		}
		s.AMT.Discovery, s.Alias = netip.Addr{}, origin{source: src}.alias()
		return nil
	}
	a, err := ifla.ParseAddr("discovery", v)
	var fe *ifla.FieldError
	if errors.As(err, &fe) && fe.Reason == "not an IP address" {
		fe.Fix = fixDiscovery
	}
	s.AMT.Discovery = a
	return err
}

// discoveryOrigin is the origin of s's discovery address, if a name gave
// it.
func discoveryOrigin(s *amtlink.Spec) (origin, bool) { return originOf(s.Alias) }

// discoveryString shows s's discovery address with its origin:
// "10.0.0.1", "10.0.0.1 (driad:198.51.100.12)", or "driad:198.51.100.12"
// before the lookup.
func discoveryString(s *amtlink.Spec) string {
	o, ok := discoveryOrigin(s)
	switch {
	case !ok:
		return addrOrNone(s.AMT.Discovery)
	case !s.AMT.Discovery.IsValid():
		return o.word()
	}
	return s.AMT.Discovery.String() + " (" + o.word() + ")"
}

// needsLookup reports whether s's discovery address is still to be looked
// up in DNS (driad:SOURCE).
func needsLookup(s *amtlink.Spec) bool {
	o, ok := discoveryOrigin(s)
	return ok && o.source.IsValid() && !s.AMT.Discovery.IsValid()
}

// standInRelay stands in for a discovery address still to be looked up,
// so that a spec is checked completely before any lookup.
var standInRelay = netip.MustParseAddr("192.0.2.1")

// validateSpec is s.Validate, with a stand-in for a discovery address DNS
// will give; an error about it names the driad: value, not the stand-in.
func validateSpec(s amtlink.Spec) error {
	o, _ := discoveryOrigin(&s)
	pending := needsLookup(&s)
	if pending {
		s.AMT.Discovery = standInRelay
	}
	err := s.Validate()
	var fe *ifla.FieldError
	if pending && errors.As(err, &fe) && fe.Field == "discovery" {
		fe.Value = o.word()
	}
	return err
}

// The bounds of apply --watch's re-lookups: the answer's TTL, but never
// sooner than minRelookup (a TTL of 0 would be a busy loop) nor later than
// maxRelookup; after a failed lookup, again in retryRelookup.
const (
	minRelookup   = time.Second
	maxRelookup   = time.Hour
	retryRelookup = 5 * time.Second
)

// relookupAfter is when an answer with ttl (seconds) is to be asked again.
func relookupAfter(ttl uint32) time.Duration {
	return min(max(time.Duration(ttl)*time.Second, minRelookup), maxRelookup)
}

// netnsResolvConf is the resolv.conf "ip netns exec NETNS" gives a program:
// /etc/netns/NETNS/resolv.conf when it exists (ip netns exec bind-mounts
// /etc/netns/NETNS/* over /etc), else /etc/resolv.conf. A namespace given
// by its path has no /etc/netns directory. etc is "/etc" but in tests.
func netnsResolvConf(etc, netns string) string {
	if netns != "" && !strings.HasPrefix(netns, "/") {
		p := filepath.Join(etc, "netns", netns, "resolv.conf")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(etc, "resolv.conf")
}

// newResolver is the resolver for a lookup made from the namespace netns
// ("" the current one): the server dns (ADDR[:PORT]) when it is not "",
// else the nameservers of the resolv.conf netnsResolvConf names, asked
// from inside netns. close releases the namespace.
func newResolver(env relayEnv, netns, dns string) (r *driad.Resolver, close func(), err error) {
	close = func() {}
	if dns != "" {
		s, err := driad.ParseServer(dns)
		if err != nil {
			return nil, close, usagef("%v", err)
		}
		r = &driad.Resolver{Servers: []netip.AddrPort{s}, Timeout: driad.DefaultTimeout, Attempts: driad.DefaultAttempts}
	} else {
		path := env.resolvConf
		if path == "" {
			etc := env.etc
			if etc == "" {
				etc = "/etc"
			}
			path = netnsResolvConf(etc, netns)
		}
		if r, err = driad.ReadResolvConf(path); err != nil {
			return nil, close, runErrf("%v; give a name server with --dns ADDR", err)
		}
	}
	if env.timeout > 0 {
		r.Timeout = env.timeout
	}
	if env.attempts > 0 {
		r.Attempts = env.attempts
	}
	r.Shuffle = env.shuffle
	if netns != "" {
		ns, err := openNetNS(netns)
		if err != nil {
			return nil, close, runErr(err)
		}
		r.Dial = nsDialer(ns.FD())
		close = func() { ns.Close() }
	}
	return r, close, nil
}

// lookupDiscovery looks up the relay of s's driad: discovery from the
// namespace netns and puts it in s.AMT.Discovery; what names the lookup in
// its error ("add amtg"). The error is the lookup's one line, exit status
// 1.
func lookupDiscovery(env relayEnv, s *amtlink.Spec, what, netns, dns string) (*driad.Result, error) {
	o, _ := discoveryOrigin(s)
	r, done, err := newResolver(env, netns, dns)
	defer done()
	lead := what + ": discovery " + o.word() + ": "
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, runErrf("%s%v", lead, err)
	}
	res, err := r.Lookup(context.Background(), o.source)
	if err != nil {
		return nil, runErrf("%s%v", lead, err)
	}
	s.AMT.Discovery = res.Relay
	return res, nil
}

// checkDNSFlag checks a --dns value before anything else happens.
func checkDNSFlag(dns string) error {
	if dns == "" {
		return nil
	}
	if _, err := driad.ParseServer(dns); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// originNote is show's words for a link's origin, "" for none.
func originNote(l *amtlink.Link) string {
	if o, ok := originOf(l.Alias); ok {
		return o.word()
	}
	return ""
}

// lookupDue looks up l's discovery driad:SOURCE from ns when it is due (at
// or after l.relookup; the zero now means due) and schedules the next
// lookup: after the answer's TTL (relookupAfter), or retryRelookup after a
// failure, which keeps the last answer. It reports whether it asked, and
// the failure's line ("" for none), naming the link and what happens to
// it; a link given an address is never due.
func (o *options) lookupDue(ns *nsState, l *fileLink, now time.Time) (asked bool, failed string) {
	if org, ok := discoveryOrigin(&l.spec); !ok || !org.source.IsValid() || (!now.IsZero() && now.Before(l.relookup)) {
		return false, ""
	}
	s := l.spec
	s.AMT.Discovery = netip.Addr{}
	res, err := lookupDiscovery(o.relay, &s, l.spec.Name+nsSuffix(ns.shown), ns.name, o.dns)
	if now.IsZero() {
		now = time.Now()
	}
	if err != nil {
		l.relookup = now.Add(retryRelookup)
		if l.spec.AMT.Discovery.IsValid() {
			return true, fmt.Sprintf("%s; keeping relay %s, asking again in %s", oneLine(err), l.spec.AMT.Discovery, retryRelookup)
		}
		return true, oneLine(err) + "; the link is left as it is"
	}
	l.spec.AMT.Discovery = s.AMT.Discovery
	l.relookup = now.Add(relookupAfter(res.TTL))
	return true, ""
}

// nextLookup is the earliest time a link of d's open namespaces is due for
// a lookup, and false when none has a driad: discovery.
func (d *desired) nextLookup() (time.Time, bool) {
	var next time.Time
	found := false
	for _, ns := range d.spaces {
		if ns.b == nil {
			continue
		}
		for _, l := range ns.links {
			if o, ok := discoveryOrigin(&l.spec); ok && o.source.IsValid() && (!found || l.relookup.Before(next)) {
				next, found = l.relookup, true
			}
		}
	}
	return next, found
}
