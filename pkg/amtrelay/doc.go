// Package amtrelay encodes, decodes, parses, formats and validates the
// AMTRELAY DNS resource record (RR type 260) of RFC 8777, "DNS Reverse IP
// Automatic Multicast Tunneling (AMT) Discovery" (DRIAD).
//
// A source S of (S,G) traffic publishes AMTRELAY records at its reverse name
// (in-addr.arpa or ip6.arpa); an AMT gateway that wants (S,G) asks for them
// to find a relay. Each record says how much it is preferred (precedence,
// lower first), whether the gateway may skip relay discovery (the D bit)
// and where the relay is: nowhere (type 0), an IPv4 address (type 1), an
// IPv6 address (type 2) or a domain name to resolve (type 3).
//
// The package does no I/O; pkg/driad makes the DNS queries. It builds on
// every OS.
//
// # Wire format (RFC 8777 §4.2)
//
//	octet 0      precedence, 0-255
//	octet 1      bit 7: D (discovery optional); bits 0-6: relay type
//	octets 2-    relay: empty (type 0), 4 octets (type 1), 16 octets
//	             (type 2), or an uncompressed wire-format domain name (type 3)
//
// [Decode] is strict: a relay of the wrong length, a compressed or
// unterminated name, bytes after the name and an unassigned relay type
// (4-127) are all errors, the last one wrapping [ErrUnknownType] so that a
// caller can skip such a record instead of failing.
//
// # Presentation format (RFC 8777 §4.3)
//
// As in a zone file: "precedence D type relay", for example
//
//	10 0 1 203.0.113.15
//	10 0 2 2001:db8::15
//	128 1 3 amtrelays.example.com.
//	0 0 0 .
//
// A type 0 record's relay is ".". A type 3 relay must be absolute (end in
// "."): there is no $ORIGIN to complete it. Label bytes that are not plain
// printable ASCII, and the zone-file specials . ; \ " ( ) @ $, are written
// with the RFC 1035 escapes \DDD and \X, as BIND's dig prints them, so every
// name that can be on the wire has a presentation that parses back to it.
// [Parse] also reads the RFC 3597 generic form ("\# 6 0a01cb00710f").
//
// # Errors
//
// Every error from [Decode], [Parse] and [Record.Validate] is a
// [*FieldError]: one line naming the field ("precedence", "D", "type",
// "relay", or "rdata" for the record as a whole) and the fix.
//
// # Why this codec is our own
//
// The DNS messages themselves are handled with golang.org/x/net/dns/dnsmessage
// (already a dependency), which hands a type 260 record over as an
// UnknownResource: its bytes are the RDATA this package decodes. That is
// safe because RFC 8777 forbids name compression inside AMTRELAY, so the
// RDATA never points into the rest of the message. github.com/miekg/dns v1
// has an AMTRELAY type, but its latest release (v1.1.73) declares go 1.25.0
// and golang.org/x/net v0.57.0, which would raise this module's go line
// above 1.24; its author calls v1 deprecated in favour of the v2 rewrite at
// codeberg.org/miekg/dns, which is still 0.x. See pkg/driad for the rest of
// that judgement.
//
// # References
//
//   - RFC 8777, DRIAD: https://www.rfc-editor.org/rfc/rfc8777
//   - RFC 1035 §3.1, §5.1 (names, zone-file escapes), RFC 3597 §5 (generic RDATA)
package amtrelay
