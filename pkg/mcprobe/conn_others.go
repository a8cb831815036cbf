//go:build !linux

package mcprobe

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
)

var errUnsupported = fmt.Errorf("mcprobe: sockets are not supported on %s/%s", runtime.GOOS, runtime.GOARCH)

// Receiver is a UDP socket bound to a group and port that joins the group
// on one device. It is Linux-only; elsewhere Listen fails.
type Receiver struct{}

// Listen fails: not supported on this OS.
func Listen(_ *Config, _ netip.AddrPort, _ int) (*Receiver, error) { return nil, errUnsupported }

// Group returns the zero Addr.
func (r *Receiver) Group() netip.Addr { return netip.Addr{} }

// Join fails: not supported on this OS.
func (r *Receiver) Join(...netip.Addr) error { return errUnsupported }

// Leave fails: not supported on this OS.
func (r *Receiver) Leave(...netip.Addr) error { return errUnsupported }

// Read fails: not supported on this OS.
func (r *Receiver) Read(time.Time) (Datagram, error) { return Datagram{}, errUnsupported }

// SetReadBuffer fails: not supported on this OS.
func (r *Receiver) SetReadBuffer(int) error { return errUnsupported }

// Close does nothing.
func (r *Receiver) Close() error { return nil }

// Sender sends UDP datagrams to one group and port. It is Linux-only;
// elsewhere NewSender fails.
type Sender struct{}

// NewSender fails: not supported on this OS.
func NewSender(_ *Config, _ netip.AddrPort, _ SenderOptions) (*Sender, error) {
	return nil, errUnsupported
}

// LocalAddr returns the zero AddrPort.
func (s *Sender) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Write fails: not supported on this OS.
func (s *Sender) Write([]byte) error { return errUnsupported }

// Close does nothing.
func (s *Sender) Close() error { return nil }
