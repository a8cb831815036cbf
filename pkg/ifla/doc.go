// Package ifla encodes, decodes and validates the IFLA_AMT_* netlink
// attributes of a Linux AMT (Automatic Multicast Tunneling, RFC 7450)
// interface: the contents of IFLA_INFO_DATA for links of kind "amt".
//
// The package does no I/O. It turns a typed [AMT] value into attributes with
// a [netlink.AttributeEncoder], back with a [netlink.AttributeDecoder] (or
// straight from bytes with [AMT.UnmarshalBinary]), and
// checks create-time input with [AMT.Validate] before anything reaches the
// kernel. Command-line parsing of single fields lives here too ([ParseMode],
// [ParseAddr], [ParsePort], [ParseMaxTunnels]) so there is one place that
// decides what a valid value is.
//
// # Wire format
//
// The attribute numbers and their payloads follow the kernel's
// include/uapi/linux/amt.h and drivers/net/amt.c (amt_policy, amt_newlink,
// amt_fill_info):
//
//	IFLA_AMT_MODE          1  u32, native byte order (0 gateway, 1 relay)
//	IFLA_AMT_RELAY_PORT    2  __be16, network byte order
//	IFLA_AMT_GATEWAY_PORT  3  __be16, network byte order
//	IFLA_AMT_LINK          4  u32, native byte order (ifindex of the lower device)
//	IFLA_AMT_LOCAL_IP      5  struct in_addr (4 bytes)
//	IFLA_AMT_REMOTE_IP     6  struct in_addr (4 bytes, reported only)
//	IFLA_AMT_DISCOVERY_IP  7  struct in_addr (4 bytes)
//	IFLA_AMT_MAX_TUNNELS   8  u32, native byte order
//
// # Decoding is lenient, encoding and validation are strict
//
// [AMT.Decode] accepts whatever a kernel reports: it checks the length of every
// attribute it knows and names the attribute in its error
// ("IFLA_AMT_RELAY_PORT: want 2 bytes, got 3"), and it keeps attributes it does
// not know in [AMT.Unknown], so that a newer kernel or an out-of-tree fork does
// not break listing. [AMT.Encode] writes those unknown attributes back
// verbatim, after the known ones, which it writes in the order iproute2 sends
// them for "ip link add NAME type amt mode ... local ... discovery ... dev ...
// gateway_port ... relay_port ... max_tunnels ...".
//
// [AMT.Validate] is the strict create-time check. It mirrors the kernel's
// amt_validate and amt_newlink and closes the holes they leave:
//
//   - addresses must be IPv4 unicast. The kernel's policy gives addresses a
//     minimum length only, so it would take the first 4 bytes of a 16-byte
//     IPv6 address; IPv4-mapped IPv6 addresses are refused, not unmapped
//     behind the user's back, and the error shows the IPv4 form to write.
//     Besides the kernel's 0.0.0.0/8, 127/8 and multicast, the broadcast
//     address and link-local 169.254/16 are refused because no router
//     forwards them;
//   - port 0 is refused for either port in either mode, and a gateway's two
//     ports must be equal, because the kernel's gateway sends from
//     gateway_port but listens only on relay_port;
//   - fields the kernel ignores in a mode are errors there (discovery on a
//     relay, max_tunnels on a gateway), and so are remote (read-only) and
//     max_tunnels 0 (which the kernel turns into 128).
//
// A value decoded from the kernel is not meant to pass Validate: the kernel
// reports every attribute, including discovery 0.0.0.0 on a relay and
// max_tunnels on a gateway.
//
// Every validation and parse error is a [*FieldError] whose message is one
// line naming the field (by its iproute2 keyword) and the fix.
//
// # References
//
//   - RFC 7450, Automatic Multicast Tunneling: https://www.rfc-editor.org/rfc/rfc7450
//   - Kernel driver: https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/drivers/net/amt.c
//   - UAPI header: https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/include/uapi/linux/amt.h
//   - Kernel networking documentation: https://docs.kernel.org/networking/index.html
//   - Kernel selftest, the reference configuration: tools/testing/selftests/net/amt.sh
//   - iproute2's AMT support, whose keywords this package uses: ip/iplink_amt.c
package ifla
