// Package nlwire is the netlink wire format that pkg/ifla and pkg/amtlink
// share: attributes (walking and appending them) and messages (headers,
// acknowledgements and their extended-ack TLVs), without allocating.
//
// It is the one place that knows netlink's framing rules; the packages above
// it decode and encode their own attributes on top of it. The rules are
// those of the kernel's lib/nlattr.c and of mdlayher/netlink's
// AttributeDecoder: an attribute length of 0 is a bare header, 1 to 3 or
// past the end is malformed, so are 1 to 3 trailing bytes, and the last
// attribute may lack its padding.
package nlwire
