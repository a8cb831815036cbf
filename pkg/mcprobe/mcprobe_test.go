package mcprobe

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	srcA = netip.MustParseAddr("192.0.2.1")
	srcB = netip.MustParseAddr("192.0.2.2")
	t0   = time.Unix(1700000000, 0)
)

func numbered(t *testing.T, session uint64, seq uint32, size int) []byte {
	t.Helper()
	b, err := Header{Session: session, Seq: seq, Sent: t0}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, make([]byte, size-len(b))...)
}

// feed adds datagrams with the given sequence numbers of one session, one
// millisecond apart, and returns the report.
func feed(t *testing.T, tr *Tracker, from netip.Addr, session uint64, seqs ...uint32) Report {
	t.Helper()
	for _, s := range seqs {
		at := t0.Add(time.Duration(tr.datagrams+1) * time.Millisecond)
		tr.Add(from, numbered(t, session, s, 64), at)
	}
	return tr.Report()
}

func seqRange(from, to uint32) []uint32 {
	var out []uint32
	for s := from; ; s++ {
		out = append(out, s)
		if s == to {
			return out
		}
	}
}

func TestTrackerAccounting(t *testing.T) {
	for _, c := range []struct {
		name                      string
		seqs                      []uint32
		received, lost, dup, reor uint64
		first, last               uint32
	}{
		{"in order", seqRange(0, 99), 100, 0, 0, 0, 0, 99},
		{"gaps", []uint32{0, 1, 2, 5, 6, 9}, 6, 4, 0, 0, 0, 9},
		{"duplicates", []uint32{0, 1, 1, 2, 2, 2}, 3, 0, 3, 0, 0, 2},
		{"swap", []uint32{0, 2, 1, 3}, 4, 0, 0, 1, 0, 3},
		{"late fills a gap", []uint32{0, 1, 4, 2, 3}, 5, 0, 0, 2, 0, 4},
		{"joined late, first seen is 1000", seqRange(1000, 1009), 10, 0, 0, 0, 1000, 1009},
		{"earlier than the first seen", []uint32{10, 11, 9, 12}, 4, 0, 0, 1, 9, 12},
		{"wraparound", append(seqRange(0xfffffffd, 0xffffffff), 0, 1, 2), 6, 0, 0, 0, 0xfffffffd, 2},
		{"loss across the wrap", []uint32{0xfffffffe, 0xffffffff, 1, 2}, 4, 1, 0, 0, 0xfffffffe, 2},
		{"reordered across the wrap", []uint32{0xffffffff, 1, 0, 2}, 4, 0, 0, 1, 0xffffffff, 2},
		{"duplicate of a number far behind is counted late", []uint32{0, 70000, 0}, 3, 69998, 0, 1, 0, 70000},
		{"a big jump clears the window", []uint32{5, 5 + dupWindow + 3, 5 + dupWindow + 2, 5 + dupWindow + 2}, 3, dupWindow + 1, 1, 1, 5, 5 + dupWindow + 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := feed(t, NewTracker(t0), srcA, 7, c.seqs...)
			if len(r.Streams) != 1 {
				t.Fatalf("%d streams, want 1", len(r.Streams))
			}
			s := r.Streams[0]
			if s.Received != c.received || s.Lost != c.lost || s.Duplicates != c.dup || s.Reordered != c.reor || s.First != c.first || s.Last != c.last {
				t.Errorf("received %d lost %d duplicates %d reordered %d first %d last %d; want %d %d %d %d %d %d",
					s.Received, s.Lost, s.Duplicates, s.Reordered, s.First, s.Last, c.received, c.lost, c.dup, c.reor, c.first, c.last)
			}
			if r.Datagrams != uint64(len(c.seqs)) || r.Unnumbered != 0 {
				t.Errorf("datagrams %d unnumbered %d, want %d 0", r.Datagrams, r.Unnumbered, len(c.seqs))
			}
			if r.Received != s.Received || r.Lost != s.Lost || r.Duplicates != s.Duplicates || r.Reordered != s.Reordered {
				t.Errorf("totals %+v differ from the one stream %+v", r, s)
			}
		})
	}
}

func TestTrackerSendersAndRestarts(t *testing.T) {
	tr := NewTracker(t0)
	feed(t, tr, srcA, 1, 0, 1, 2, 3)
	feed(t, tr, srcB, 1, 0, 2) // same session number, another sender
	// srcA restarts: a new session from 0; its last datagrams (4, 5 of
	// the old session) were never sent and are not lost.
	r := feed(t, tr, srcA, 2, 0, 1, 3)
	if len(r.Streams) != 3 {
		t.Fatalf("%d streams, want 3: %+v", len(r.Streams), r.Streams)
	}
	want := []StreamReport{
		{From: srcA, Session: 1, First: 0, Last: 3, Received: 4},
		{From: srcB, Session: 1, First: 0, Last: 2, Received: 2, Lost: 1},
		{From: srcA, Session: 2, First: 0, Last: 3, Received: 3, Lost: 1},
	}
	for i := range want {
		if r.Streams[i] != want[i] {
			t.Errorf("stream %d: %+v, want %+v", i, r.Streams[i], want[i])
		}
	}
	if r.Received != 9 || r.Lost != 2 {
		t.Errorf("totals received %d lost %d, want 9 2", r.Received, r.Lost)
	}
}

func TestTrackerUnnumberedAndRates(t *testing.T) {
	tr := NewTracker(t0)
	if r := tr.Report(); r.Datagrams != 0 || r.FirstAfter != 0 || r.DatagramsPerSecond != 0 {
		t.Fatalf("empty report %+v", r)
	}
	tr.Add(srcA, []byte("hello"), t0.Add(2*time.Second))
	tr.Add(srcA, bytes.Repeat([]byte{1}, 100), t0.Add(2*time.Second+500*time.Millisecond))
	tr.Add(srcA, []byte("AMTp\x02"+string(make([]byte, 40))), t0.Add(3*time.Second)) // version 2: not ours
	r := tr.Report()
	if r.Datagrams != 3 || r.Unnumbered != 3 || r.Bytes != 5+100+45 || len(r.Streams) != 0 {
		t.Fatalf("report %+v", r)
	}
	if r.FirstAfter != 2*time.Second || r.Span != time.Second {
		t.Errorf("first after %v span %v, want 2s 1s", r.FirstAfter, r.Span)
	}
	if r.DatagramsPerSecond != 2 || r.BytesPerSecond != 150*2.0/3 {
		t.Errorf("rates %v/s %v B/s, want 2 and 100", r.DatagramsPerSecond, r.BytesPerSecond)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	good := numbered(t, 1, 2, HeaderLen)
	for name, b := range map[string][]byte{
		"short":    good[:HeaderLen-1],
		"magic":    append([]byte("AMTq"), good[4:]...),
		"version":  append(append([]byte{}, good[:4]...), append([]byte{2}, good[5:]...)...),
		"reserved": append(append([]byte{}, good[:6]...), append([]byte{1}, good[7:]...)...),
		"empty":    nil,
	} {
		if _, err := ParseHeader(b); !errors.Is(err, ErrNotNumbered) {
			t.Errorf("%s: err %v, want ErrNotNumbered", name, err)
		}
	}
	h, err := ParseHeader(good)
	if err != nil || h.Session != 1 || h.Seq != 2 || !h.Sent.Equal(t0) {
		t.Errorf("ParseHeader(good) = %+v, %v", h, err)
	}
}

type recorder struct{ got [][]byte }

func (r *recorder) Write(b []byte) error {
	r.got = append(r.got, append([]byte(nil), b...))
	return nil
}

func TestSend(t *testing.T) {
	var w recorder
	var progress uint64
	n, err := Send(context.Background(), &w, SendOptions{Session: 42, Size: 100, Count: 5, Sent: func(n uint64) { progress = n }})
	if err != nil || n != 5 || progress != 5 || len(w.got) != 5 {
		t.Fatalf("Send = %d, %v; progress %d, %d written", n, err, progress, len(w.got))
	}
	tr := NewTracker(t0)
	for i, b := range w.got {
		if len(b) != 100 {
			t.Fatalf("datagram %d: %d bytes, want 100", i, len(b))
		}
		if !bytes.Equal(b[HeaderLen:], make([]byte, 100-HeaderLen)) {
			t.Fatalf("datagram %d: padding not zero", i)
		}
		tr.Add(srcA, b, t0)
	}
	r := tr.Report()
	if len(r.Streams) != 1 || r.Streams[0].Session != 42 || r.Received != 5 || r.Streams[0].First != 0 || r.Streams[0].Last != 4 {
		t.Fatalf("report %+v", r)
	}
	for _, size := range []int{HeaderLen - 1, MaxSize + 1} {
		if _, err := Send(context.Background(), &w, SendOptions{Size: size, Count: 1}); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := Send(ctx, &w, SendOptions{Count: 3}); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Send = %d, %v", n, err)
	}
}

// TestSendPaced checks the schedule, not the speed: at 200/s, 20
// datagrams take at least 19 intervals.
func TestSendPaced(t *testing.T) {
	var w recorder
	start := time.Now()
	if _, err := Send(context.Background(), &w, SendOptions{Rate: 200, Count: 20}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 19*5*time.Millisecond {
		t.Errorf("20 datagrams at 200/s took %v, less than the schedule's 95ms", took)
	}
}

// batchRecorder is a BatchWriter that records the batches it is given.
type batchRecorder struct {
	recorder
	batches []int
	fail    int // fail the batch after this many datagrams in all; 0 never
}

func (r *batchRecorder) WriteBatch(bs [][]byte) (int, error) {
	r.batches = append(r.batches, len(bs))
	for i, b := range bs {
		if r.fail != 0 && len(r.got) == r.fail {
			return i, errors.New("no room")
		}
		_ = r.Write(b)
	}
	return len(bs), nil
}

// TestSendBatches: to a BatchWriter, an unpaced Send writes MaxBatch at a
// time, the same numbered datagrams as one by one, and counts a batch's
// partial failure exactly.
func TestSendBatches(t *testing.T) {
	var w batchRecorder
	var progress []uint64
	n, err := Send(context.Background(), &w, SendOptions{Session: 7, Size: 40, Count: 2*MaxBatch + 3, Sent: func(n uint64) { progress = append(progress, n) }})
	if err != nil || n != 2*MaxBatch+3 || len(w.got) != int(n) {
		t.Fatalf("Send = %d, %v; %d written", n, err, len(w.got))
	}
	if want := []int{MaxBatch, MaxBatch, 3}; !slices.Equal(w.batches, want) {
		t.Errorf("batches %v, want %v", w.batches, want)
	}
	if want := []uint64{MaxBatch, 2 * MaxBatch, 2*MaxBatch + 3}; !slices.Equal(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}
	for i, b := range w.got {
		h, err := ParseHeader(b)
		if err != nil || h.Session != 7 || h.Seq != uint32(i) || len(b) != 40 || !bytes.Equal(b[HeaderLen:], make([]byte, 40-HeaderLen)) {
			t.Fatalf("datagram %d: %x (%+v, %v)", i, b, h, err)
		}
	}
	w = batchRecorder{fail: 70}
	if n, err := Send(context.Background(), &w, SendOptions{Count: 100}); n != 70 || err == nil {
		t.Errorf("Send with the 71st write failing = %d, %v; want 70 and the error", n, err)
	}
	w = batchRecorder{}
	if n, err := Send(context.Background(), &w, SendOptions{Count: 5}); n != 5 || err != nil || !slices.Equal(w.batches, []int{5}) {
		t.Errorf("Send of 5 = %d, %v in batches %v, want one batch of 5", n, err, w.batches)
	}
}

// TestSendPacedBatches checks the schedule with a BatchWriter: at 2,000/s,
// 200 datagrams take at least 199 intervals, and no batch holds more than
// was due.
func TestSendPacedBatches(t *testing.T) {
	var w batchRecorder
	start := time.Now()
	if _, err := Send(context.Background(), &w, SendOptions{Rate: 2000, Count: 200}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 199*500*time.Microsecond {
		t.Errorf("200 datagrams at 2,000/s took %v, less than the schedule's 99.5ms", took)
	}
	// Batch i ends with datagram sum-1, due (sum-1)/2000 s after the
	// start: no batch may end later in the schedule than its send time.
	sum := 0
	for _, b := range w.batches {
		sum += b
	}
	if sum != 200 || len(w.got) != 200 {
		t.Fatalf("batches %v sent %d, want 200", w.batches, sum)
	}
	for i, b := range w.got {
		h, _ := ParseHeader(b)
		if due := start.Add(time.Duration(i) * 500 * time.Microsecond); h.Sent.Before(due) {
			t.Fatalf("datagram %d sent at +%v, before it was due at +%v", i, h.Sent.Sub(start), due.Sub(start))
		}
	}
}

// BenchmarkSendBatch is the sender's own cost per datagram when batched
// (headers and bookkeeping, no system call): far below the 100 µs
// interval of 10,000/s.
func BenchmarkSendBatch(b *testing.B) {
	var w discardBatch
	for b.Loop() {
		if _, err := Send(context.Background(), &w, SendOptions{Session: 1, Size: 64, Count: MaxBatch}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*MaxBatch), "ns/datagram")
}

type discardBatch struct{}

func (discardBatch) Write([]byte) error                  { return nil }
func (discardBatch) WriteBatch(bs [][]byte) (int, error) { return len(bs), nil }

func FuzzParseHeader(f *testing.F) {
	good, _ := Header{Session: 1, Seq: 2, Sent: t0}.AppendBinary(nil)
	f.Add(good)
	f.Add(append(good, 0, 0, 0))
	f.Add([]byte("AMTp"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			if !errors.Is(err, ErrNotNumbered) {
				t.Fatalf("error %v does not wrap ErrNotNumbered", err)
			}
			return
		}
		// A header that parses writes back to the same octets.
		out, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("round trip: %x became %x", b[:HeaderLen], out)
		}
		// And the tracker takes it.
		tr := NewTracker(t0)
		tr.Add(srcA, b, t0)
		if r := tr.Report(); r.Received != 1 || r.Unnumbered != 0 {
			t.Fatalf("tracker: %+v", r)
		}
	})
}

// BenchmarkTrackerAdd is the receiver's cost per numbered datagram: a
// probe keeps up with a stream as long as this stays far below the
// datagrams' interval (100 µs at 10,000/s).
func BenchmarkTrackerAdd(b *testing.B) {
	tr := NewTracker(t0)
	buf, _ := Header{Session: 1, Sent: t0}.AppendBinary(nil)
	buf = append(buf, make([]byte, 36)...)
	seq := uint32(0)
	for b.Loop() {
		buf[16], buf[17], buf[18], buf[19] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
		tr.Add(srcA, buf, t0)
		seq++
	}
}
