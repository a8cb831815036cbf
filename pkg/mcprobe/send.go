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
	// Sent, when not nil, is called after each datagram with the number
	// sent so far (for progress output).
	Sent func(n uint64)
}

// Writer is what Send writes to: a *Sender, or a test's.
type Writer interface {
	Write(b []byte) error
}

// Send writes numbered datagrams to w, sequence numbers 0, 1, ... of one
// session, at o.Rate on a fixed schedule (one datagram per 1/Rate from the
// start; a late sender catches up in a burst rather than drifting), until
// o.Count are sent or ctx ends. It returns how many it sent; the error is
// ctx's or the first write that failed.
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
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	buf := make([]byte, 0, o.Size)
	start := time.Now()
	var timer *time.Timer
	for n := uint64(0); o.Count == 0 || n < o.Count; n++ {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if interval > 0 {
			due := start.Add(time.Duration(n) * interval)
			if wait := time.Until(due); wait > 0 {
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
			}
		}
		b, _ := Header{Session: o.Session, Seq: uint32(n), Sent: time.Now()}.AppendBinary(buf[:0])
		b = b[:o.Size] // zero padding: buf's capacity is Size and never written past the header
		if err := w.Write(b); err != nil {
			return n, err
		}
		if o.Sent != nil {
			o.Sent(n + 1)
		}
	}
	return o.Count, nil
}
