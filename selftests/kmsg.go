//go:build linux

package selftests

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"
)

// kmsgReader reads the kernel log from /dev/kmsg, from a saved position on,
// without blocking. The kernel log is not namespaced: it holds every
// namespace's warnings, which is what a selftest wants.
type kmsgReader struct {
	fd int
}

// openKmsg opens /dev/kmsg non-blocking and moves to its end, so later reads
// return only records logged from now on.
func openKmsg() (*kmsgReader, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	// SEEK_END on /dev/kmsg skips to after the newest record.
	if _, err := unix.Seek(fd, 0, io.SeekEnd); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("seek /dev/kmsg: %w", err)
	}
	return &kmsgReader{fd: fd}, nil
}

// Close closes the reader.
func (k *kmsgReader) Close() error { return unix.Close(k.fd) }

// read returns the message text of every record logged since the last read
// (or since openKmsg). Records that were overwritten before they could be
// read are reported as one "(N records lost)" line, not as an error.
func (k *kmsgReader) read() ([]string, error) {
	var out []string
	buf := make([]byte, 8192) // one read returns one record, at most 8 KiB
	for {
		// The raw fd, not an os.File: os.File would park the goroutine on
		// EAGAIN instead of returning it.
		n, rerr := unix.Read(k.fd, buf)
		switch {
		case errors.Is(rerr, unix.EAGAIN):
			return out, nil
		case errors.Is(rerr, unix.EPIPE):
			out = append(out, "(kernel log records were overwritten before they could be read)")
			continue
		case errors.Is(rerr, unix.EINTR):
			continue
		case rerr != nil:
			return out, fmt.Errorf("read /dev/kmsg: %w", rerr)
		case n == 0:
			return out, nil
		}
		out = append(out, kmsgText(string(buf[:n])))
	}
}

// kmsgText returns the message of one /dev/kmsg record
// ("PRI,SEQ,USEC,FLAGS;message\n KEY=value\n...").
func kmsgText(rec string) string {
	if i := strings.IndexByte(rec, ';'); i >= 0 {
		rec = rec[i+1:]
	}
	if i := strings.IndexByte(rec, '\n'); i >= 0 {
		rec = rec[:i]
	}
	return rec
}

// kernelTroubleMarkers are substrings of kernel log lines that mean the
// kernel hit a bug, whatever the test otherwise saw.
var kernelTroubleMarkers = []string{
	"WARNING:", "BUG:", "BUG ", "Call Trace", "general protection fault", "Oops",
	"kernel BUG", "KASAN:", "UBSAN:", "KFENCE:", "refcount_t:", "list_add corruption",
	"list_del corruption", "unregister_netdevice: waiting for", "RCU detected stall",
	"soft lockup", "hung_task", "stack-protector", "Kernel panic",
}

// troubleLines returns the lines that carry a trouble marker.
func troubleLines(lines []string) []string {
	var bad []string
	for _, l := range lines {
		for _, m := range kernelTroubleMarkers {
			if strings.Contains(l, m) {
				bad = append(bad, l)
				break
			}
		}
	}
	return bad
}
