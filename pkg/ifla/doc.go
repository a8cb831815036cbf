// Package ifla encodes, decodes and validates the IFLA_AMT_* netlink
// attributes of a Linux AMT (Automatic Multicast Tunneling, RFC 7450)
// interface: the contents of IFLA_INFO_DATA for links of kind "amt".
//
// The package does no I/O. It turns a typed [AMT] value into attributes with
// an [netlink.AttributeEncoder], back with an [netlink.AttributeDecoder], and
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
// [AMT.Decode] accepts whatever a kernel reports: it checks the length of
// every attribute it knows (and names the attribute in its error), and keeps
// attributes it does not know in [AMT.Unknown] so that a newer kernel or an
// out-of-tree fork does not break listing. [AMT.Encode] writes those unknown
// attributes back verbatim. [AMT.Validate] is the strict create-time check; it
// closes holes the kernel leaves open (for example, the kernel's policy only
// sets a minimum length for addresses, so a 16-byte IPv6 address would be
// silently truncated to its first four bytes).
//
// Every validation and parse error is a [*FieldError] whose message is one
// line naming the field and the fix.
//
// # References
//
//   - RFC 7450, Automatic Multicast Tunneling: https://www.rfc-editor.org/rfc/rfc7450
//   - Kernel driver: https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/drivers/net/amt.c
//   - UAPI header: https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/include/uapi/linux/amt.h
//   - Kernel documentation: https://docs.kernel.org/networking/index.html
//     (the AMT driver is configured with "ip link add NAME type amt ...", iproute2 ip/iplink_amt.c)
package ifla
