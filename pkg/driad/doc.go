// Package driad finds the AMT relay for a multicast source the way RFC 8777
// (DNS Reverse IP AMT Discovery, DRIAD) says: it asks DNS for AMTRELAY
// records at the source's reverse name (in-addr.arpa. or ip6.arpa.), orders
// them by precedence with ties broken at random, resolves relay names to A
// records, and picks the first IPv4 relay. Linux's AMT gateway tunnels over
// IPv4 only, so IPv6 relays are reported but never chosen.
//
// [Resolver] is a small stub resolver: the servers of /etc/resolv.conf
// ([ReadResolvConf]) or any others, UDP with a retry over TCP when an
// answer is truncated, CNAMEs followed (in the answer, or by asking again
// for an alias's target), SERVFAIL, REFUSED and timeouts passed on to the
// next server. It sends no EDNS, sets RD (a recursive resolver is the usual
// server) and does no DNSSEC validation: like the rest of the system's
// lookups it trusts the resolver it is given. Every failure is an [*Error]
// whose message is one line naming what was asked, of whom, and what came
// back, and which wraps one of the Err* categories for errors.Is.
//
// The records themselves are decoded by package amtrelay.
//
// # Why golang.org/x/net/dns/dnsmessage and not github.com/miekg/dns
//
// Both can do this job: miekg/dns v1 has an AMTRELAY type and a client;
// dnsmessage builds and parses messages, handing type 260 over as an
// UnknownResource whose bytes amtrelay decodes (RFC 8777 forbids
// compression in AMTRELAY, so those bytes stand alone). What decided it,
// as of 2026-11:
//
//   - Go version. miekg/dns v1.1.73, its latest release, declares go
//     1.25.0 and requires golang.org/x/net v0.57.0: taking it would raise
//     this module's go line above the 1.24 it keeps. v1.1.72 still says go
//     1.24.0 but would pin us to an old v1 release from the start.
//   - Maintenance. Its author has said v1 is deprecated from his point of
//     view, in favour of the v2 rewrite at codeberg.org/miekg/dns, and
//     downstream projects describe v1 as frozen; v2 is still 0.x (v0.6.x),
//     a moving API.
//   - Weight. dnsmessage is already in go.sum through golang.org/x/net, is
//     maintained by the Go team with the standard library's resolver on top
//     of it, and this lookup needs only questions, CNAME, A and one opaque
//     type: a few hundred lines of ours, tested against a real server.
//
// # References
//
//   - RFC 8777, DRIAD: https://www.rfc-editor.org/rfc/rfc8777
//   - RFC 1035 §4.2 (UDP, and TCP with a length prefix), RFC 7766 (TCP
//     fallback), resolv.conf(5)
package driad
