// Package mcprobe answers "is multicast arriving?": it joins a group on a
// device (for any source, or source-specifically through IGMPv3/MLDv2, with
// the kernel's socket options), receives and counts what arrives, and sends
// numbered datagrams whose loss, duplicates and reordering a receiver can
// tell. amtctl probe and amtctl send are built on it, and so are the
// selftests' receivers and senders.
//
// The format and the accounting ([Header], [Tracker]) do no I/O and build
// on every OS. The sockets ([Listen], [NewSender]) are Linux's: they can be
// created inside another network namespace ([Config].NetNS), on a locked
// thread that is switched back before it is released (mdlayher/socket does
// the switch), and keep that namespace for their whole life.
//
// # Datagram format
//
// A numbered datagram starts with a 28-byte header, all integers
// big-endian; the rest of the datagram, up to the size the sender chose, is
// zero padding that the receiver ignores:
//
//	octets 0-3    magic "AMTp" (0x41 0x4d 0x54 0x70)
//	octet  4      version, 1
//	octets 5-7    reserved, zero
//	octets 8-15   session: a random number the sender draws when it starts
//	octets 16-19  sequence number: 0 for the session's first datagram, then
//	              one more for each, wrapping from 2^32-1 to 0
//	octets 20-27  send time, nanoseconds since the Unix epoch (signed);
//	              datagrams sent in one batch carry the batch's time
//
// A datagram that is shorter, has another magic or version, or reserved
// octets that are not zero is not numbered: a [Tracker] counts it and its
// bytes but draws no loss figures from it.
//
// # Accounting
//
// A [Tracker] keeps one stream per sender: per source address and session.
// Two senders, or a sender restarted (it draws a new session), are told
// apart, and the datagrams a stopped sender never sent are never counted as
// lost.
//
// Within a stream, sequence numbers are compared in serial-number arithmetic
// (RFC 1982) on 32 bits: a number less than 2^31 ahead of the highest seen
// is newer, anything else older, so the wrap from 2^32-1 to 0 is just the next
// datagram. The stream's range runs from its lowest to its highest sequence
// number seen, extended past the wrap, and:
//
//   - received counts distinct sequence numbers seen;
//   - a duplicate is a sequence number seen before (recognised within the
//     last 65,536 numbers below the highest; an older one is counted as
//     received and reordered);
//   - reordered counts datagrams that arrived after one with a higher
//     sequence number;
//   - lost is the range's size minus received: numbers inside the range
//     never seen. Datagrams lost before the first or after the last one
//     received cannot be told from datagrams never sent and are not counted.
//
// A late datagram counted lost at one moment is no longer lost once it
// arrives: lost is always computed from what has arrived so far.
package mcprobe
