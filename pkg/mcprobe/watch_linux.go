//go:build linux

package mcprobe

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// ReportWatch counts the IGMP / MLD membership reports for one group that
// leave one device: whether a join was really sent.
type ReportWatch struct {
	s     *socket.Conn
	n     atomic.Int64
	group netip.Addr
	done  sync.WaitGroup
}

// WatchReports starts counting the membership reports naming group that
// the host sends out of the device with index ifindex, in cfg's namespace,
// on a packet socket (which needs CAP_NET_RAW: without it the error matches
// errors.Is(err, os.ErrPermission)). Close stops it.
func WatchReports(cfg *Config, ifindex int, group netip.Addr) (*ReportWatch, error) {
	var sc socket.Config
	if cfg != nil {
		sc.NetNS = cfg.NetNS
	}
	proto := int(htons(unix.ETH_P_ALL))
	s, err := socket.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, proto, "packet", &sc)
	if err != nil {
		return nil, fmt.Errorf("watch reports: packet socket: %w", err)
	}
	if err := s.Bind(&unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		s.Close()
		return nil, fmt.Errorf("watch reports: bind to ifindex %d: %w", ifindex, err)
	}
	w := &ReportWatch{s: s, group: group.Unmap()}
	w.done.Add(1)
	go w.run()
	return w, nil
}

func (w *ReportWatch) run() {
	defer w.done.Done()
	buf := make([]byte, 65536)
	for {
		n, sa, err := w.s.Recvfrom(context.Background(), buf, 0)
		if err != nil {
			return // closed
		}
		if ll, ok := sa.(*unix.SockaddrLinklayer); !ok || ll.Pkttype != unix.PACKET_OUTGOING {
			continue
		}
		if reportNames(buf[:n], w.group) {
			w.n.Add(1)
		}
	}
}

// Count returns how many reports for the group have left the device so far.
func (w *ReportWatch) Count() int { return int(w.n.Load()) }

// Close stops the watch.
func (w *ReportWatch) Close() error {
	err := w.s.Close()
	w.done.Wait()
	return err
}

// htons puts v in network byte order, as the packet socket's protocol
// fields want it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
