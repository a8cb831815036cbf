// Command amtctl creates, shows, changes, watches and deletes Linux AMT (RFC 7450 Automatic
// Multicast Tunneling) links, with iproute2's words and JSON.
//
// Usage:
//
//	amtctl [-n NETNS] [-j [-p]] add [--dns ADDR[:PORT]] NAME mode gateway|relay local ADDR dev IF
//	        [discovery ADDR|driad:SOURCE|anycast] [gateway_port N] [relay_port N]
//	        [max_tunnels N] [master BR] [mtu N] [up]
//	amtctl [-n NETNS] [-j [-p]] show [NAME]     (aliases: list, ls)
//	amtctl [-n NETNS] del NAME                  (alias: delete)
//	amtctl [-n NETNS] [-j [-p]] set NAME [up|down] [mtu N] [master BR|nomaster]
//	amtctl [-n NETNS] [-j] monitor [--interval D]
//	amtctl metrics --listen ADDR [-n NETNS]... [--interval D]   (execs amtctl-metrics)
//	amtctl [-n NETNS] apply -f FILE|- [--dns ADDR[:PORT]] [--prune] [--dry-run | --watch]
//	amtctl [-n NETNS] [-j [-p]] -batch FILE|- [-force]
//	amtctl [-n NETNS] [-j [-p]] relay lookup SOURCE [--dns ADDR[:PORT]]
//	amtctl version
//	amtctl completion bash|zsh|fish|powershell
//
// "amtctl add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0"
// does what "ip link add amtg type amt mode gateway local 10.0.0.2 discovery
// 10.0.0.1 dev eth0" does; "type amt" and "name" are accepted, so iproute2
// lines paste unchanged. Every value is checked before anything is sent to
// the kernel, and a mistake is one line on stderr naming the field and the
// fix:
//
//	$ amtctl add amtr mode relay local 10.0.0.1/24 dev eth0
//	amtctl: local "10.0.0.1/24": not an IP address; use an IPv4 unicast address such as 192.0.2.1
//
// -n NETNS runs in a network namespace: a name made with "ip netns add"
// (/run/netns/NAME) or an absolute path such as /proc/PID/ns/net. Flags go before the
// link name.
//
// "show" prints a table (NAME, MODE, STATE, DEV, LOCAL, DISCOVERY, REMOTE,
// PORTS as gateway_port/relay_port, MAX_TUNNELS, RX/TX packets; a gateway
// that has not yet found its relay reads "discovering"). With -j it prints
// the JSON array "ip -d -s -j link show" prints for the same links, with the
// same keys, value types and omissions (linkinfo.info_data.remote appears
// once a gateway has discovered its relay), so jq filters carry over:
//
//	amtctl -n gw show -j | jq -r '.[0].linkinfo.info_data.remote'
//
// "apply" makes the links match a YAML or JSON file (a "links:" list whose
// keys are add's keywords, plus netns and up): it checks the whole file
// first, then creates what is missing, deletes and re-creates a link whose
// AMT attributes differ (the kernel cannot change them in place), sets up,
// mtu and master in place and, with --prune, deletes the amt links the file
// does not name. A second apply prints "no changes". "-batch FILE" runs one
// command per line, as "ip -batch" does, over one netlink socket per
// namespace; "amtctl: line N: ..." names the failing line.
//
// "set" changes a link in place, as "ip link set" does: up or down, mtu,
// master or nomaster, several at once in one request. The AMT attributes
// (mode, local, discovery, dev, ports, max_tunnels) cannot be changed: the
// kernel's AMT driver has no changelink, and set says so and how to do it
// instead (del and add again, or apply).
//
// "monitor" prints one line per event on the namespace's AMT links until
// SIGINT or SIGTERM (exit status 0):
//
//	created amtg gateway local 10.0.0.2 dev veth-g
//	up amtg
//	relay-discovered amtg 10.0.0.1
//	down amtg
//	relay-lost amtg (was 10.0.0.1)
//	deleted amtg
//
// or, with -j, one JSON object per line ({"time":...,"event":
// "relay-discovered","ifname":"amtg","remote":"10.0.0.1",...}). The kernel
// sends no notification when a gateway finds its relay, so while gateways
// exist monitor polls them every --interval (default 200ms).
//
// "relay lookup SOURCE" finds the AMT relay for a multicast source as RFC
// 8777 (DRIAD) says: it asks DNS for the AMTRELAY records (type 260) at
// SOURCE's reverse name, with the name servers of /etc/resolv.conf or the
// one given with --dns, and prints every record in the order a gateway
// tries them (lower precedence first, ties at random), the relay chosen and
// the answer's TTL:
//
//	$ amtctl relay lookup 198.51.100.12
//	AMTRELAY 12.100.51.198.in-addr.arpa. from 127.0.0.1:53, TTL 300
//	PRECEDENCE  D  TYPE  RELAY                 ADDRESS                    NOTE
//	5           0  ipv6  2001:db8::15          -                          IPv6 relay: not used, the kernel's AMT tunnel is IPv4
//	10          0  ipv4  203.0.113.15          203.0.113.15               chosen
//	20          0  name  relays.example.test.  203.0.113.30,203.0.113.31
//	relay 203.0.113.15 (discovery required, precedence 10), TTL 300
//
// Relay names are resolved to A records; IPv6 relays are shown but never
// chosen. NXDOMAIN, no record, SERVFAIL, REFUSED, no answer, a malformed
// record, only IPv6 relays and a type 0 ("no relay") record each end in one
// line naming what was asked and what came back, with exit status 1:
//
//	amtctl: relay lookup 198.51.100.99: asked 127.0.0.1:53 for AMTRELAY 99.100.51.198.in-addr.arpa., got NXDOMAIN (no such name)
//
// A gateway's discovery address can come from a name. "discovery
// driad:SOURCE" makes that lookup when the link is made and uses the relay
// it chooses; "discovery anycast" is 192.52.193.1, the anycast relay
// address of RFC 7450 section 7. With -n NETNS the lookup goes out from
// inside NETNS with the resolv.conf "ip netns exec NETNS" would give
// (/etc/netns/NETNS/resolv.conf when it exists, else /etc/resolv.conf);
// --dns ADDR[:PORT] asks that server instead. A failed lookup is the
// lookup's one line and exit status 1, and nothing is created:
//
//	$ amtctl add amtg mode gateway local 10.0.0.2 discovery driad:198.51.100.99 dev eth0
//	amtctl: add amtg: discovery driad:198.51.100.99: asked 127.0.0.1:53 for AMTRELAY 99.100.51.198.in-addr.arpa., got NXDOMAIN (no such name)
//
// The kernel keeps only the address, so amtctl records the name in the
// link's interface alias (IFLA_IFALIAS, "ip link show" prints it):
// "amtctl:driad=SOURCE" or "amtctl:anycast". show prints it after the
// address ("10.0.0.1 (driad:198.51.100.12)") and, with -j, as
// "amtctl": {"discovery_from": "driad:198.51.100.12"} beside iproute2's
// keys. An alias that does not start with "amtctl:" is the user's:
// amtctl keeps it when apply re-creates a link, and says so on the plan's
// line when it replaces one with its own. In apply files the key takes the
// same values (discovery: driad:198.51.100.12); apply looks the names up
// before it plans, and apply --watch looks each one up again when its
// answer's TTL runs out (at least 1s, at most 1h; 5s after a failed
// lookup, which keeps the link as it is and logs one line) and re-creates
// the gateway when the relay changed, logging the old and the new relay.
//
// Exit status: 0 success; 1 the request was well formed but failed (the
// kernel refused it, no such link, device or namespace, permission denied,
// no AMT driver); 2 usage error (nothing was sent to the kernel). Warnings
// ("amtctl: warning: dev eth0 is down") go to stderr and do not change the
// status.
package main
