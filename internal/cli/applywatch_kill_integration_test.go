//go:build linux

package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/sys/unix"
)

// amtctlProcess starts this test binary as amtctl (beAmtctlEnv) with args,
// its stdout on the pipe stdout, its stderr on stderr.
func amtctlProcess(t testing.TB, stdout, stderr *os.File, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), beAmtctlEnv+"=1")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start amtctl %q: %v", args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// killLinks is how many links the kill -9 test's file names.
const killLinks = 50

// TestIntegrationApplyWatchKill9: apply --watch, a process of its own, is
// killed with SIGKILL while it converges a file of 50 links (some to
// create, some to replace); a second apply --watch on the same file then
// converges to exactly the file's links, no more and none missing, each as
// the file says, and does only what the first one had not done: it
// creates the links missing when it started and replaces the ones still
// different, nothing else.
//
// The first process's stdout is a pipe of one page that nobody reads until
// it is dead (-j lines are long): it blocks after a couple of dozen lines,
// so the kill lands mid-work on any machine, however fast.
func TestIntegrationApplyWatchKill9(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	path := testenv.NetNSPath(ns)
	kc := nsClient(t, ns)
	var file strings.Builder
	file.WriteString("links:\n")
	for i := range killLinks {
		fmt.Fprintf(&file, "  - {name: amt%d, mode: relay, local: 10.0.0.1, dev: eth0, max_tunnels: 8}\n", i)
	}
	name := writeFile(t, "links.yaml", file.String())
	// Links that are there but wrong (max_tunnels 3): replaced, early in
	// the plan and late.
	for _, i := range []int{2, 5, 8, 40, 45} {
		spec := amtlink.Spec{Name: fmt.Sprintf("amt%d", i), Dev: "eth0", AMT: ifla.AMT{
			Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1"), MaxTunnels: ifla.Ptr[uint32](3)}}
		if err := kc.Add(spec); err != nil {
			t.Fatalf("add %s: %v", spec.Name, err)
		}
	}

	// The first apply --watch, killed once it made ten links.
	out1, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatalf("F_SETPIPE_SZ: %v", err)
	}
	cmd := amtctlProcess(t, w, os.Stderr, "-j", "-n", path, "apply", "--watch", "-f", name)
	w.Close()
	for start := time.Now(); len(amtLinks(t, ns)) < 15; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatal("the first apply --watch made fewer than ten links in a minute")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first apply --watch: %v; want killed by SIGKILL", err)
	}
	logged, _ := io.ReadAll(out1)
	out1.Close()
	t.Logf("the first apply --watch printed %d line(s) before SIGKILL", strings.Count(string(logged), "\n"))

	// What it left: the second one must do exactly the rest.
	left := map[string]amtlink.Link{}
	links, err := kc.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		left[l.Name] = l
	}
	var wantCreate, wantReplace []string
	for i := range killLinks {
		n := fmt.Sprintf("amt%d", i)
		switch l, ok := left[n]; {
		case !ok:
			wantCreate = append(wantCreate, n)
		case l.AMT.MaxTunnels == nil || *l.AMT.MaxTunnels != 8:
			wantReplace = append(wantReplace, n)
		}
	}
	t.Logf("after SIGKILL: %d of %d links there, %d to create, %d to replace", len(left), killLinks, len(wantCreate), len(wantReplace))
	if len(wantCreate) == 0 {
		t.Fatalf("the first apply --watch had created every link before SIGKILL: nothing left to test")
	}

	// The second, run to convergence ("watching" on stderr), then
	// SIGTERM.
	out2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = amtctlProcess(t, w2, errW, "-j", "-n", path, "apply", "--watch", "-f", name)
	w2.Close()
	errW.Close()
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(out2)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		lines <- got
	}()
	watching := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			t.Logf("second apply --watch, stderr: %s", sc.Text())
			if strings.HasPrefix(sc.Text(), "amtctl: watching ") {
				watching <- sc.Text()
			}
		}
		close(watching)
	}()
	select {
	case l, ok := <-watching:
		if !ok {
			t.Fatal("the second apply --watch ended before it watched")
		}
		if want := fmt.Sprintf("amtctl: watching %d link(s) of", killLinks); !strings.HasPrefix(l, want) {
			t.Errorf("second apply --watch: %q, want %q...", l, want)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the second apply --watch not watching within 2 minutes")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("second apply --watch after SIGTERM: %v; want exit 0", err)
	}
	var created, replaced, other []string
	for _, l := range <-lines {
		var j watchLogJSON
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("second apply --watch: line %q: %v", l, err)
		}
		switch j.Action {
		case "created":
			created = append(created, j.Ifname)
		case "replaced":
			replaced = append(replaced, j.Ifname)
		default:
			other = append(other, l)
		}
	}
	for _, s := range [][]string{created, replaced, wantCreate, wantReplace} {
		sort.Strings(s)
	}
	if !slices.Equal(created, wantCreate) || !slices.Equal(replaced, wantReplace) || len(other) > 0 {
		t.Errorf("second apply --watch: created %q, replaced %q, other lines %q; want created %q, replaced %q and nothing else",
			created, replaced, other, wantCreate, wantReplace)
	}

	// Exactly the file's links, each as it says.
	links, err = kc.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range links {
		got = append(got, l.Name)
		if l.LowerName != "eth0" || l.AMT.Mode == nil || *l.AMT.Mode != ifla.ModeRelay || l.AMT.Local != netip.MustParseAddr("10.0.0.1") ||
			l.AMT.MaxTunnels == nil || *l.AMT.MaxTunnels != 8 {
			t.Errorf("%s after the restart: dev %q mode %v local %v max_tunnels %v; want the file's", l.Name, l.LowerName, l.AMT.Mode, l.AMT.Local, l.AMT.MaxTunnels)
		}
	}
	var want []string
	for i := range killLinks {
		want = append(want, fmt.Sprintf("amt%d", i))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("amt links after the restart: %q; want exactly %q", got, want)
	}
}
