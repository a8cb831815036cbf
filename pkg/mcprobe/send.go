package mcprobe

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// NewSession draws a random session number for a sender starting up.
func NewSession() uint64 {
	return rand.Uint64()
}

// Datagram size bounds for [SendOptions].Size: the header, and the largest
// UDP payload over IPv4.
const (
	MinSize = HeaderLen
	MaxSize = 65507
)

// SendOptions shape a run of [Send].
type SendOptions struct {
	Session uint64  // the session in every header; 0 draws one (NewSession)
	Rate    float64 // datagrams per second; 0 or less sends as fast as it can
	Size    int     // UDP payload octets, MinSize to MaxSize; 0 means MinSize
	Count   uint64  // how many to send; 0 sends until ctx ends
	// Sent, when not nil, is called after each write (one datagram, or
	// a batch) with the number sent so far (for progress output).
	Sent func(n uint64)
}

// Writer is what Send writes to: a *Sender, or a test's.
type Writer interface {
	Write(b []byte) error
}

// BatchWriter is a [Writer] that can send several datagrams at once, as
// *Sender does with one system call; [Send] uses WriteBatch when w has it.
type BatchWriter interface {
	Writer
	// WriteBatch sends each of bs as one datagram and returns how many
	// it sent: all, or those before the first that failed, with the
	// error.
	WriteBatch(bs [][]byte) (int, error)
}

// MaxBatch is the most datagrams [Send] hands a [BatchWriter] at once.
const MaxBatch = 64

// Send writes numbered datagrams to w, sequence numbers 0, 1, ... of one
// session, at o.Rate on a fixed schedule (datagram n is due n/Rate after
// the start; a late sender catches up in a burst rather than drifting),
// until o.Count are sent or ctx ends. Every datagram due when Send wakes
// up leaves at once, up to [MaxBatch] in one WriteBatch when w is a
// [BatchWriter] (so a high rate costs one system call per batch, not per
// datagram), each with the time of its batch in its header. It returns how
// many it sent; the error is ctx's or the first write that failed.
func Send(ctx context.Context, w Writer, o SendOptions) (uint64, error) {
	if o.Size == 0 {
		o.Size = MinSize
	}
	if o.Size < MinSize || o.Size > MaxSize {
		return 0, fmt.Errorf("size %d: a numbered datagram is %d to %d octets", o.Size, MinSize, MaxSize)
	}
	if o.Session == 0 {
		o.Session = NewSession()
	}
	bw, _ := w.(BatchWriter)
	batch := 1
	if bw != nil {
		batch = MaxBatch
		if o.Count != 0 && o.Count < MaxBatch {
			batch = int(o.Count)
		}
	}
	// One buffer of batch datagrams; the padding is never written, so it
	// stays zero.
	buf := make([]byte, batch*o.Size)
	bs := make([][]byte, batch)
	for i := range bs {
		bs[i] = buf[i*o.Size : (i+1)*o.Size : (i+1)*o.Size]
	}
	start := time.Now()
	var timer *time.Timer
	var n uint64
	for o.Count == 0 || n < o.Count {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k := uint64(batch)
		if o.Count != 0 {
			k = min(k, o.Count-n)
		}
		now := time.Now()
		if o.Rate > 0 {
			// Datagrams 0 to due-1 are due by now.
			due := uint64(now.Sub(start).Seconds()*o.Rate) + 1
			if due <= n {
				wait := time.Until(start.Add(time.Duration(float64(n) / o.Rate * float64(time.Second))))
				if wait <= 0 {
					wait = time.Microsecond // rounding: due next time
				}
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					timer.Stop()
					return n, ctx.Err()
				case <-timer.C:
				}
				continue
			}
			k = min(k, due-n)
		}
		for i := range k {
			_, _ = Header{Session: o.Session, Seq: uint32(n + i), Sent: now}.AppendBinary(bs[i][:0])
		}
		if bw != nil {
			m, err := bw.WriteBatch(bs[:k])
			n += uint64(m)
			if err != nil {
				return n, err
			}
		} else {
			for i := range k {
				if err := w.Write(bs[i]); err != nil {
					return n, err
				}
				n++
			}
		}
		if o.Sent != nil {
			o.Sent(n)
		}
	}
	return n, nil
}
