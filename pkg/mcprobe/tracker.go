package mcprobe

import (
	"net/netip"
	"time"
)

// dupWindow is how far below the highest sequence number of a stream a
// duplicate is still recognised (a power of two).
const dupWindow = 1 << 16

// Tracker counts the datagrams a receiver got and, for numbered ones, keeps
// each sender's sequence accounting (see the package documentation). The
// zero value is not usable; call [NewTracker]. A Tracker is not safe for
// concurrent use.
type Tracker struct {
	start       time.Time
	first, last time.Time
	datagrams   uint64
	bytes       uint64
	unnumbered  uint64
	streams     map[streamKey]*stream
	order       []streamKey // streams in the order their first datagram came
}

type streamKey struct {
	from    netip.Addr
	session uint64
}

// NewTracker returns a Tracker whose time to the first datagram counts from
// start (when the receiver joined).
func NewTracker(start time.Time) *Tracker {
	return &Tracker{start: start, streams: map[streamKey]*stream{}}
}

// Add counts one datagram of payload, received from from at time at.
func (t *Tracker) Add(from netip.Addr, payload []byte, at time.Time) {
	if t.datagrams == 0 {
		t.first = at
	}
	t.last = at
	t.datagrams++
	t.bytes += uint64(len(payload))
	h, err := ParseHeader(payload)
	if err != nil {
		t.unnumbered++
		return
	}
	k := streamKey{from: from.Unmap(), session: h.Session}
	s := t.streams[k]
	if s == nil {
		s = &stream{}
		t.streams[k] = s
		t.order = append(t.order, k)
	}
	s.add(h.Seq)
}

// Report is what a Tracker has counted.
type Report struct {
	Datagrams uint64 // every datagram, numbered or not
	Bytes     uint64 // their UDP payload octets
	// FirstAfter is the time from the Tracker's start to the first
	// datagram; Span from the first datagram to the last. Both are zero
	// before any datagram came.
	FirstAfter, Span time.Duration
	// DatagramsPerSecond and BytesPerSecond are the rates over Span
	// (datagrams after the first, and their bytes, per second of Span);
	// zero with fewer than two datagrams.
	DatagramsPerSecond, BytesPerSecond float64
	Unnumbered                         uint64 // datagrams without the header
	// Streams are the numbered senders, in the order their first datagram
	// came; the totals below add them up.
	Streams                               []StreamReport
	Received, Lost, Duplicates, Reordered uint64
}

// StreamReport is the accounting of one sender's session.
type StreamReport struct {
	From    netip.Addr
	Session uint64
	// First and Last are the lowest and highest sequence numbers seen
	// (Last may be below First after a wrap).
	First, Last                           uint32
	Received, Lost, Duplicates, Reordered uint64
}

// Report returns the counts so far.
func (t *Tracker) Report() Report {
	r := Report{Datagrams: t.datagrams, Bytes: t.bytes, Unnumbered: t.unnumbered}
	if t.datagrams > 0 {
		r.FirstAfter = t.first.Sub(t.start)
		r.Span = t.last.Sub(t.first)
	}
	if t.datagrams > 1 && r.Span > 0 {
		sec := r.Span.Seconds()
		r.DatagramsPerSecond = float64(t.datagrams-1) / sec
		r.BytesPerSecond = float64(t.bytes) * float64(t.datagrams-1) / float64(t.datagrams) / sec
	}
	for _, k := range t.order {
		s := t.streams[k]
		sr := StreamReport{
			From: k.from, Session: k.session,
			First: uint32(s.low), Last: uint32(s.high),
			Received: s.received, Lost: s.lost(), Duplicates: s.dups, Reordered: s.reordered,
		}
		r.Streams = append(r.Streams, sr)
		r.Received += sr.Received
		r.Lost += sr.Lost
		r.Duplicates += sr.Duplicates
		r.Reordered += sr.Reordered
	}
	return r
}

// stream is one sender's sequence accounting. Sequence numbers are
// extended to 64 bits (low, high) so that a range survives the wrap.
type stream struct {
	started   bool
	low, high int64
	received  uint64
	dups      uint64
	reordered uint64
	seen      [dupWindow / 64]uint64 // bit ext%dupWindow: ext in (high-dupWindow, high] was seen
}

func (s *stream) bit(ext int64) (word int, mask uint64) {
	i := uint64(ext) % dupWindow
	return int(i / 64), 1 << (i % 64)
}

func (s *stream) mark(ext int64) {
	w, m := s.bit(ext)
	s.seen[w] |= m
}

func (s *stream) marked(ext int64) bool {
	w, m := s.bit(ext)
	return s.seen[w]&m != 0
}

func (s *stream) add(seq uint32) {
	if !s.started {
		s.started = true
		s.low, s.high = int64(seq), int64(seq)
		s.mark(s.high)
		s.received = 1
		return
	}
	// Serial-number arithmetic: the signed 32-bit distance from the
	// highest seen.
	ext := s.high + int64(int32(seq-uint32(s.high)))
	switch {
	case ext > s.high:
		if ext-s.high >= dupWindow {
			s.seen = [dupWindow / 64]uint64{}
		} else {
			for e := s.high + 1; e <= ext; e++ {
				w, m := s.bit(e)
				s.seen[w] &^= m
			}
		}
		s.high = ext
		s.mark(ext)
		s.received++
	case ext <= s.high-dupWindow:
		// Too old to tell a duplicate from a late one: late.
		s.received++
		s.reordered++
		s.low = min(s.low, ext)
	case s.marked(ext):
		s.dups++
	default:
		s.mark(ext)
		s.received++
		s.reordered++
		s.low = min(s.low, ext)
	}
}

func (s *stream) lost() uint64 {
	n := uint64(s.high-s.low) + 1
	if s.received >= n {
		return 0
	}
	return n - s.received
}
