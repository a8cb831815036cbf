//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// benchLinks is how many links the kernel benchmarks of apply --watch keep.
const benchLinks = 1000

// benchFile is an apply file of benchLinks relays on eth0 (10.0.0.1), up,
// each on a port of its own.
func benchFile(b *testing.B) string {
	var sb strings.Builder
	sb.WriteString("links:\n")
	for i := range benchLinks {
		fmt.Fprintf(&sb, "  - {name: amt%d, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: %d, up: true}\n", i, 2000+i)
	}
	return writeFile(b, "links.yaml", sb.String())
}

// netlinkTap counts the netlink requests made in one namespace as the
// kernel sees them: an nlmon device there is handed a copy of every
// netlink message of the namespace, which a packet socket bound to it
// reads. A request is a message with NLM_F_REQUEST (the kernel's answers
// and notifications have none); a dump request has NLM_F_DUMP as well.
type netlinkTap struct {
	fd  int
	buf []byte
}

func newNetlinkTap(b *testing.B, ns *os.File) *netlinkTap {
	b.Helper()
	c := dialNS(b, ns)
	if err := c.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC, Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Name: "nlmon0", Info: &rtnetlink.LinkInfo{Kind: "nlmon"}},
	}); err != nil {
		testenv.Skip(b, "no nlmon device to count netlink requests with (CONFIG_NLMON): %v", err)
	}
	idx := testenv.LinkIndex(b, c, "nlmon0")
	tap := &netlinkTap{fd: -1, buf: make([]byte, 1<<16)}
	err := testenv.Do(int(ns.Fd()), func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		tap.fd = fd
		// Room for every copy of a resync's dump of 1,000 links.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20); err != nil {
			return fmt.Errorf("SO_RCVBUFFORCE: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(idx)}); err != nil {
			return fmt.Errorf("bind to nlmon0: %w", err)
		}
		return nil
	})
	if tap.fd >= 0 {
		b.Cleanup(func() { unix.Close(tap.fd) })
	}
	if err != nil {
		b.Fatal(err)
	}
	return tap
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// count reads what the tap holds and returns the dump requests and the
// other requests in it. Frames the socket dropped would make the counts a
// lower bound: that fails the benchmark.
func (t *netlinkTap) count(b *testing.B) (dumps, others int) {
	b.Helper()
	for {
		n, _, err := unix.Recvfrom(t.fd, t.buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			b.Fatalf("read the netlink tap: %v", err)
		}
		if n < unix.SizeofNlMsghdr {
			continue
		}
		flags := binary.NativeEndian.Uint16(t.buf[6:8])
		switch {
		case flags&unix.NLM_F_REQUEST == 0:
		case flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP:
			dumps++
		default:
			others++
		}
	}
	st, err := unix.GetsockoptTpacketStats(t.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		b.Fatalf("PACKET_STATISTICS: %v", err)
	}
	if st.Drops > 0 {
		b.Fatalf("the netlink tap dropped %d of %d frames: the counts would be too low", st.Drops, st.Packets)
	}
	return dumps, others
}

// procCPU is a process's CPU time: utime+stime from /proc/PID/stat, in
// clock ticks (USER_HZ, 100 a second), and the time its threads spent on a
// CPU from their schedstat, in nanoseconds.
func procCPU(b *testing.B, pid int) (ticks, onCPU int64) {
	b.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's name, which is in parentheses and
	// may hold anything: state is the first, utime the 12th, stime the
	// 13th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += v
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range tasks {
		s, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that ended
		}
		v, err := strconv.ParseInt(strings.Fields(string(s))[0], 10, 64)
		if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		onCPU += v
	}
	return ticks, onCPU
}

// procMemMB is a process's VmRSS and VmHWM (its peak RSS), in MB.
func procMemMB(b *testing.B, pid int) (rss, hwm float64) {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(st))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			b.Fatalf("/proc/%d/status: %s: %v", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// BenchmarkIntegrationApplyWatchIdle1000 is apply --watch, a process of
// its own (this test binary as amtctl), keeping 1,000 relays (up) in a
// namespace: once it has converged and gone quiet (no netlink request for
// a second, then the Go runtime settled: settle-s, settle-cpu-ms), each
// iteration is one idle second, with no notification and no resync (--resync 1h). It
// reports the watcher's CPU time per idle second, from /proc/PID/stat
// (utime+stime, 10 ms ticks: 0 is "unmeasurable") and from its threads'
// schedstat (nanoseconds on a CPU); the netlink requests it made per idle
// second, counted by the kernel (nlmon); and its VmRSS and VmHWM at the
// end. -test.benchtime=10x idles 10 s.
func BenchmarkIntegrationApplyWatchIdle1000(b *testing.B) {
	testenv.RequireAMT(b)
	ns := testenv.NewNetNS(b)
	addDummy(b, ns, "eth0", "10.0.0.1")
	file := benchFile(b)
	out, err := os.Create(filepath.Join(b.TempDir(), "apply.out"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	cmd := amtctlProcess(b, out, errW, "-n", testenv.NetNSPath(ns), "apply", "--watch", "--resync", "1h", "-f", file)
	errW.Close()
	watching := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "amtctl: watching ") {
				watching <- sc.Text()
			} else {
				b.Logf("apply --watch, stderr: %s", sc.Text())
			}
		}
	}()
	select {
	case <-watching:
	case <-time.After(5 * time.Minute):
		b.Fatal("apply --watch not watching 1,000 links within 5 minutes")
	}
	converged := time.Since(start)
	// Quiet: the notifications of its own creations handled, a whole
	// second without a netlink request.
	tap := newNetlinkTap(b, ns)
	for quiet := false; !quiet; {
		if time.Since(start) > 10*time.Minute {
			b.Fatal("apply --watch still making netlink requests 10 minutes after it started")
		}
		time.Sleep(time.Second)
		d, o := tap.count(b)
		quiet = d+o == 0
	}
	pid := cmd.Process.Pid
	ticksQ, onQ := procCPU(b, pid)
	if ticksQ == 0 || onQ == 0 {
		b.Fatalf("apply --watch converged %d links on no CPU time (%d ticks, %d ns): /proc/%d is not read right", benchLinks, ticksQ, onQ, pid)
	}
	// Then the Go runtime's own aftermath: the background scavenger
	// returns the convergence's freed memory at about 1% of a CPU (10
	// ms/s) for a while. Settled: a second with under 100 µs on a CPU;
	// how long that took, and what it cost, is reported too.
	quietAt := time.Now()
	ticks0, on0 := ticksQ, onQ
	for {
		time.Sleep(time.Second)
		t, o := procCPU(b, pid)
		settled := o-on0 < 100e3
		ticks0, on0 = t, o
		if settled {
			break
		}
		if time.Since(quietAt) > 2*time.Minute {
			b.Fatalf("apply --watch still on a CPU every second 2 minutes after its last netlink request")
		}
	}
	settle := time.Since(quietAt).Seconds()
	settleMS := float64(on0-onQ) / 1e6
	t0 := time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	idle := time.Since(t0).Seconds()
	ticks1, on1 := procCPU(b, pid)
	dumps, others := tap.count(b)
	rss, hwm := procMemMB(b, pid)
	cpuMS := float64(ticks1-ticks0) * 10 / idle
	onUS := float64(on1-on0) / 1e3 / idle
	reqs := float64(dumps+others) / idle
	b.ReportMetric(cpuMS, "cpu-ms/idle-s")
	b.ReportMetric(onUS, "oncpu-µs/idle-s")
	b.ReportMetric(reqs, "nlreq/idle-s")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(hwm, "hwm-MB")
	b.ReportMetric(settle, "settle-s")
	b.ReportMetric(settleMS, "settle-cpu-ms")
	b.Logf("kernel %s: %d links converged in %v (CPU: %d ticks, %.0f ms on a CPU); the runtime settled %.0f s after the last netlink request (%.1f ms on a CPU meanwhile); then over %.1f idle s: utime+stime %d tick(s) (%.1f ms/s), on a CPU %.0f µs/s, %d netlink request(s); VmRSS %.1f MB, VmHWM %.1f MB",
		testenv.KernelRelease(), benchLinks, converged.Round(time.Millisecond), ticksQ, float64(onQ)/1e6, settle, settleMS, idle, ticks1-ticks0, cpuMS, onUS, dumps+others, rss, hwm)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Errorf("apply --watch after SIGTERM: %v; want exit 0", err)
	}
}

// BenchmarkIntegrationApplyWatchResync1000 is one apply --watch resync of
// 1,000 converged links on the real kernel: it reports the dump requests
// and the other netlink requests each costs, counted by the kernel
// (nlmon), not by amtctl.
func BenchmarkIntegrationApplyWatchResync1000(b *testing.B) {
	testenv.RequireAMT(b)
	ns := testenv.NewNetNS(b)
	addDummy(b, ns, "eth0", "10.0.0.1")
	file := benchFile(b)
	path := testenv.NetNSPath(ns)
	if code, _, errOut := runKernel("", "-n", path, "apply", "-f", file); code != 0 {
		b.Fatalf("apply: exit %d, %s", code, errOut)
	}
	tap := newNetlinkTap(b, ns)
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	links, probs := parseApplyFile(f)
	f.Close()
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	be, err := OpenAMTLink(path)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	ns0 := &nsState{b: be, links: links}
	var log bytes.Buffer
	w := &applyWatch{d: &desired{spaces: []*nsState{ns0}}, failed: map[string]string{}, log: watchLog{w: &log, now: time.Now}}
	tap.count(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		w.converge(ns0)
		n++
	}
	dumps, others := tap.count(b)
	if log.Len() > 0 {
		b.Errorf("a resync of converged links said %q", log.String())
	}
	b.ReportMetric(float64(dumps)/float64(n), "dumps/resync")
	b.ReportMetric(float64(others)/float64(n), "other-nlreq/resync")
	b.Logf("kernel %s: %d resync(s) of %d links: %d dump request(s), %d other request(s) (the lower device's name, by index)", testenv.KernelRelease(), n, benchLinks, dumps, others)
}
