//go:build linux

package selftests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/amtrelay"
	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// amtctlEnv makes the test binary run as amtctl (TestMain), so that the
// tests below drive the real command line, exit statuses included.
const amtctlEnv = "AMTCTL_SELFTEST_AMTCTL"

// The DNS side of TestIntegrationDRIAD: BIND's named in the relay's
// namespace on 10.0.0.2:53 serves the reverse zone of the source
// 172.17.0.2. Its name is a CNAME to "relays", which has one record of each
// type at several precedences; the IPv6 one comes first and is skipped, so
// the relay is the name relay.example.test. (10.0.0.2). The second zone
// moves it to 10.0.0.4 (type 1; named reloads on SIGHUP). TTLs are 2 s, so apply --watch asks again
// soon. 0.18.172.in-addr.arpa. does not load: SERVFAIL.
const (
	driadRevZone = `$ORIGIN 0.17.172.in-addr.arpa.
$TTL 2
@      IN SOA ns.example.test. host.example.test. %d 3600 600 86400 2
@      IN NS  ns.example.test.
2      IN CNAME relays
relays IN AMTRELAY 5 0 2 2001:db8::99
relays IN AMTRELAY %s
relays IN AMTRELAY 30 0 1 10.0.0.9
3      IN TXT "no relay here"
5      IN AMTRELAY 10 0 2 2001:db8::5
`
	driadExampleZone = `$ORIGIN example.test.
$TTL 2
@      IN SOA ns host 1 3600 600 86400 2
@      IN NS  ns
ns     IN A   10.0.0.2
relay  IN A   10.0.0.2
`
	firstRecord  = "10 1 3 relay.example.test."
	secondRecord = "10 0 1 10.0.0.4"
)

var (
	relay2V4   = netip.MustParsePrefix("10.0.0.4/24") // the second relay, after the record changes
	silentDNS  = netip.MustParsePrefix("10.0.0.5/24") // a name server that never answers
	driadSrc   = sourceV4.Addr()                      // 172.17.0.2
	relay2Name = "amtr2"
)

// named is BIND's named running in a namespace.
type named struct {
	t    *testing.T
	ns   *netns
	dir  string
	cmd  *exec.Cmd
	log  *os.File
	conf string
}

// startNamed writes the zones (with rec as the relays' second record) and
// starts named inside ns, listening on addr:53. It skips when named is not
// installed, except under CI or in the VM, where that is a failure.
func startNamed(t *testing.T, ns *netns, addr netip.Addr, rec string) *named {
	t.Helper()
	if _, err := exec.LookPath("named"); err != nil {
		if _, err := os.Stat("/usr/sbin/named"); err != nil {
			if os.Getenv("CI") == "true" || os.Getenv("AMTCTL_REQUIRE_KERNEL") == "1" {
				t.Fatalf("named (Debian package bind9) is not installed; make dns-tools installs it")
			}
			t.Skip("named not installed (apt-get install bind9 bind9-dnsutils)")
		}
	}
	n := &named{t: t, ns: ns, dir: t.TempDir()}
	n.conf = filepath.Join(n.dir, "named.conf")
	conf := fmt.Sprintf(`options {
	directory %q;
	pid-file none;
	session-keyfile none;
	listen-on port 53 { %s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
zone "0.17.172.in-addr.arpa" { type primary; file "rev.zone"; };
zone "example.test" { type primary; file "example.zone"; };
zone "0.18.172.in-addr.arpa" { type primary; file "broken.zone"; };
`, n.dir, addr)
	for name, text := range map[string]string{"named.conf": conf, "example.zone": driadExampleZone, "broken.zone": "not a zone\n"} {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.start(rec, 1)
	t.Cleanup(n.stop)
	return n
}

// writeZone writes the reverse zone with rec as the relays' second record.
func (n *named) writeZone(rec string, serial int) {
	n.t.Helper()
	if err := os.WriteFile(filepath.Join(n.dir, "rev.zone"), []byte(fmt.Sprintf(driadRevZone, serial, rec)), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// reload changes the relays' second record to rec: the zone is written
// anew with a higher serial and named, sent SIGHUP, reloads its zones
// without ever stopping to answer.
func (n *named) reload(rec string, serial int) {
	n.t.Helper()
	n.writeZone(rec, serial)
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		n.t.Fatalf("reload named: %v", err)
	}
}

// start writes the reverse zone and starts named.
func (n *named) start(rec string, serial int) {
	t := n.t
	t.Helper()
	n.writeZone(rec, serial)
	log, err := os.OpenFile(filepath.Join(n.dir, "named.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.log = log
	bin, _ := exec.LookPath("named")
	if bin == "" {
		bin = "/usr/sbin/named"
	}
	n.cmd = exec.Command(bin, "-g", "-n", "1", "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = log, log // files: Start starts no goroutine
	if err := startIn(n.ns, n.cmd); err != nil {
		t.Fatalf("start named: %v", err)
	}
}

// waitRunning waits until named says it is running (its zones loaded),
// reading its log: cheaper than asking it in a loop, which under TCG makes
// named's start slower still.
func (n *named) waitRunning() {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(n.dir, "named.log"))
		// "01-Dec-2026 14:11:33.369 running", after "running on Linux"
		// and "running as: named ..." lines.
		if bytes.Contains(b, []byte(" running\n")) {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("named in %s did not start within 60s; its log:\n%s", n.ns, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *named) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
	n.log.Close()
	if n.t.Failed() {
		b, _ := os.ReadFile(filepath.Join(n.dir, "named.log"))
		n.t.Logf("named's log:\n%s", b)
	}
}

// startIn starts cmd inside ns: the child is forked from a thread switched
// into the namespace, which it keeps. cmd's standard streams must be files
// or nil, so that Start starts no goroutine there.
func startIn(ns *netns, cmd *exec.Cmd) error {
	return ns.Do(cmd.Start)
}

// runAmtctl runs amtctl (this binary, see amtctlEnv) with args and returns
// its exit status, stdout and stderr.
func runAmtctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), amtctlEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("amtctl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// nameNetNS makes ns a named namespace, as "ip netns add" would: a bind
// mount of its file at /run/netns/NAME, removed in Cleanup.
func nameNetNS(t *testing.T, ns *netns) string {
	t.Helper()
	name := "amtctl-" + randomSuffix()
	p := filepath.Join("/run/netns", name)
	if err := os.MkdirAll("/run/netns", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.fd), p, "", unix.MS_BIND, ""); err != nil {
		os.Remove(p)
		t.Fatalf("bind-mount %s's namespace at %s: %v", ns, p, err)
	}
	t.Cleanup(func() {
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
	})
	return name
}

// fakeDNS answers on addr inside ns: with malformed AMTRELAY RDATA when
// malformed is set, else never.
func fakeDNS(t *testing.T, ns *netns, addr netip.AddrPort, malformed bool) {
	t.Helper()
	c, err := listenUDP(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if !malformed {
				continue
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			// An IPv4 relay one byte short.
			_ = b.UnknownResource(dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: q.Class, TTL: 2}, dnsmessage.UnknownResource{Type: q.Type, Data: []byte{10, 1, 10, 0, 0}})
			msg, _ := b.Finish()
			_, _ = c.WriteToUDPAddrPort(msg, from)
		}
	}()
}

// showLink is what the tests read of amtctl show -j.
type showLink struct {
	IfName   string `json:"ifname"`
	IfAlias  string `json:"ifalias"`
	LinkInfo struct {
		InfoData struct {
			Discovery string `json:"discovery"`
			Remote    string `json:"remote"`
		} `json:"info_data"`
	} `json:"linkinfo"`
	Amtctl *struct {
		DiscoveryFrom string `json:"discovery_from"`
	} `json:"amtctl"`
}

func showAll(t *testing.T, netns string) []showLink {
	t.Helper()
	code, out, errOut := runAmtctl(t, "-n", netns, "show", "-j")
	var links []showLink
	if code != 0 || json.Unmarshal([]byte(out), &links) != nil {
		t.Fatalf("amtctl show -j: exit %d, %s %s", code, out, errOut)
	}
	return links
}

// TestIntegrationDRIAD makes gateways with "discovery driad:SOURCE"
// against BIND in the relay's namespace, on the real driver: the relay the
// AMTRELAY records name is discovered and multicast data flows through it;
// every failure is one line and creates nothing; the answers match dig's;
// and when the record moves to a second relay, apply --watch re-creates
// the gateway pointing at it, and data flows through that one.
func TestIntegrationDRIAD(t *testing.T) {
	start := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }
	at := newAMTTopology(t, amtOptions{})
	phase("topology")
	if err := at.gw.Delete(gatewayDev); err != nil { // ours is made by amtctl
		t.Fatal(err)
	}
	for _, p := range []netip.Prefix{relay2V4, silentDNS} {
		if err := at.relay.addAddr("relay_gw", p); err != nil {
			t.Fatal(err)
		}
	}
	dns := startNamed(t, at.relay, relayUpV4.Addr(), firstRecord)
	fakeDNS(t, at.relay, netip.AddrPortFrom(relayUpV4.Addr(), 5300), true)
	fakeDNS(t, at.relay, netip.AddrPortFrom(silentDNS.Addr(), 53), false)
	gw := nameNetNS(t, at.gateway)
	server := relayUpV4.Addr().String()

	dns.waitRunning()

	phase("named answers")
	// The lookup's records are dig's, and the relay is the type 3 name's
	// address (the IPv6 record at precedence 5 is skipped).
	code, out, errOut := runAmtctl(t, "-n", gw, "-j", "relay", "lookup", driadSrc.String(), "--dns", server)
	var res struct {
		Query   string   `json:"query"`
		CNAMEs  []string `json:"cnames"`
		Relay   string   `json:"relay"`
		TTL     uint32   `json:"ttl"`
		Records []struct {
			RData string `json:"rdata"`
		} `json:"records"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Relay != relayUpV4.Addr().String() || len(res.CNAMEs) != 1 || res.TTL != 2 {
		t.Fatalf("relay lookup: exit %d, %s %s; want relay %s through one CNAME, TTL 2", code, out, errOut, relayUpV4.Addr())
	}
	var ours []string
	for _, r := range res.Records {
		ours = append(ours, r.RData)
	}
	slices.Sort(ours)
	if dig, err := exec.LookPath("dig"); err == nil {
		f, err := os.CreateTemp(t.TempDir(), "dig")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dig, "+short", "+norec", "@"+server, "TYPE260", res.CNAMEs[0])
		cmd.Stdout = f
		if err := startIn(at.gateway, cmd); err != nil || cmd.Wait() != nil {
			t.Fatalf("dig in %s: %v", at.gateway, err)
		}
		b, _ := os.ReadFile(f.Name())
		var theirs []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			rec, err := amtrelay.Parse(line)
			if err != nil {
				t.Fatalf("dig printed %q: %v", line, err)
			}
			theirs = append(theirs, rec.String())
		}
		slices.Sort(theirs)
		if !slices.Equal(ours, theirs) {
			t.Errorf("dig gives %q, the lookup %q", theirs, ours)
		}
	} else if os.Getenv("AMTCTL_REQUIRE_KERNEL") == "1" {
		t.Fatal("dig (bind9-dnsutils) is not installed; make dns-tools installs it")
	}

	phase("dig compared")
	// add ... discovery driad: with --dns: the gateway finds the relay the
	// record names, and data flows through it.
	gwArgs := func(name string, extra ...string) []string {
		return append([]string{"add", name, "mode", "gateway", "local", gwUpV4.Addr().String(), "discovery", "driad:" + driadSrc.String(), "dev", "gw_relay"}, extra...)
	}
	code, _, errOut = runAmtctl(t, append([]string{"-n", gw, "add", "--dns", server}, gwArgs(gatewayDev, "master", "br0", "up")[1:]...)...)
	if code != 0 {
		t.Fatalf("add with driad: exit %d: %s", code, errOut)
	}
	links := showAll(t, gw)
	if len(links) != 1 || links[0].LinkInfo.InfoData.Discovery != "10.0.0.2" || links[0].IfAlias != "amtctl:driad=172.17.0.2" ||
		links[0].Amtctl == nil || links[0].Amtctl.DiscoveryFrom != "driad:172.17.0.2" {
		t.Fatalf("after add: %+v", links)
	}
	phase("added")
	at.waitDiscovered(t, at.gw, gatewayDev, relayUpV4.Addr(), discoveryWait)
	dst := netip.AddrPortFrom(group4, 4010)
	rcv := openReceiver(t, at.listener, "l_gw", dst)
	snd := openSender(t, at.source, driadSrc, "src_relay", dst)
	expectDelivery(t, snd, rcv, deliveryTimeout, at.diag)
	phase("delivered through the first relay")

	// The same through /etc/netns/NS/resolv.conf, as ip netns exec gives it.
	etc := filepath.Join("/etc/netns", gw)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(etc)
		_ = os.Remove("/etc/netns") // only if no one else's is there
	})
	writeResolv := func(text string) {
		if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeResolv("nameserver " + server + "\n")
	if code, _, errOut := runAmtctl(t, append([]string{"-n", gw}, gwArgs("amtg2")...)...); code != 0 {
		t.Fatalf("add through /etc/netns resolv.conf: exit %d: %s", code, errOut)
	}
	if l, err := at.gw.Get("amtg2"); err != nil || l.AMT.Discovery != relayUpV4.Addr() || l.Alias != "amtctl:driad=172.17.0.2" {
		t.Fatalf("amtg2: %+v, %v", l, err)
	}
	if err := at.gw.Delete("amtg2"); err != nil {
		t.Fatal(err)
	}

	phase("added through /etc/netns")
	// Every failure: one line, exit 1, nothing created.
	writeResolv("nameserver " + silentDNS.Addr().String() + "\noptions timeout:1 attempts:1\n")
	for _, c := range []struct {
		what, source, dns, want string
	}{
		{"NXDOMAIN", "172.17.0.99", server, "got NXDOMAIN (no such name)"},
		{"no record", "172.17.0.3", server, "got no AMTRELAY record (NOERROR, empty answer)"},
		{"SERVFAIL", "172.18.0.1", server, "got SERVFAIL"},
		{"only IPv6", "172.17.0.5", server, "got only IPv6 relays (2001:db8::5), but the kernel's AMT tunnel is IPv4"},
		{"malformed", "172.17.0.2", server + ":5300", "got a malformed AMTRELAY record"},
		{"timeout", "172.17.0.2", "", "asked 10.0.0.5:53 for AMTRELAY 2.0.17.172.in-addr.arpa., got no answer within 1s (1 attempts)"},
	} {
		args := []string{"-n", gw, "add"}
		if c.dns != "" {
			args = append(args, "--dns", c.dns)
		}
		args = append(args, "amtx", "mode", "gateway", "local", gwUpV4.Addr().String(), "discovery", "driad:"+c.source, "dev", "gw_relay", "up")
		code, out, errOut := runAmtctl(t, args...)
		want := "amtctl: add amtx: discovery driad:" + c.source + ": asked "
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line %q...%q", c.what, code, out, errOut, want, c.want)
		}
		if links, err := at.gw.List(); err != nil || len(links) != 1 || links[0].Name != gatewayDev {
			t.Errorf("%s: the failed add left links behind: %+v, %v", c.what, links, err)
		}
	}

	phase("failures")
	// apply --watch keeps amtg (as made by add); the record moves to a
	// second relay, and once the TTL has passed the gateway is re-created
	// pointing at it.
	file := filepath.Join(t.TempDir(), "links.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`links:
  - name: amtg
    mode: gateway
    local: %s
    discovery: driad:%s
    dev: gw_relay
    master: br0
    up: true
`, gwUpV4.Addr(), driadSrc)), 0o644); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	watch := exec.Command(self, "-n", gw, "apply", "-f", file, "--watch", "--dns", server)
	watch.Env = append(os.Environ(), amtctlEnv+"=1")
	pr, pw := io.Pipe()
	watch.Stdout, watch.Stderr = pw, io.Discard
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = watch.Process.Signal(syscall.SIGTERM)
		_ = watch.Wait()
		pw.Close()
	})

	// The second relay replaces the first: the gateway can only deliver
	// again once it has moved.
	if err := at.rl.Delete(relayDev); err != nil {
		t.Fatal(err)
	}
	if _, err := at.rl.Create(amtlink.Spec{Name: relay2Name, Dev: "relay_gw", Up: true, AMT: ifla.AMT{
		Mode: ifla.Ptr(ifla.ModeRelay), Local: relay2V4.Addr(), RelayPort: ifla.Ptr(ifla.DefaultPort), MaxTunnels: ifla.Ptr[uint32](relayMaxTuns)}}); err != nil {
		t.Fatal(err)
	}
	if err := at.mr4.route(driadSrc, group4, "relay_src", relay2Name); err != nil {
		t.Fatal(err)
	}
	phase("second relay")
	dns.reload(secondRecord, 2)
	phase("zone reloaded")
	changed := time.Now()
	want := fmt.Sprintf("replaced amtg: discovery 10.0.0.2 (driad:%s) → 10.0.0.4 (driad:%s)", driadSrc, driadSrc)
	timeout := time.After(30 * time.Second)
	for found := false; !found; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("apply --watch ended")
			}
			t.Logf("apply --watch: %s", l)
			found = strings.HasPrefix(l, want)
		case <-timeout:
			t.Fatalf("apply --watch did not log %q within 30s of the record's change", want)
		}
	}
	t.Logf("re-created %v after the record changed (TTL 2s)", time.Since(changed).Round(time.Millisecond))
	at.waitDiscovered(t, at.gw, gatewayDev, relay2V4.Addr(), discoveryWait)
	rcv2 := openReceiver(t, at.listener, "l_gw", netip.AddrPortFrom(group4, 4011))
	snd2 := openSender(t, at.source, driadSrc, "src_relay", netip.AddrPortFrom(group4, 4011))
	expectDelivery(t, snd2, rcv2, deliveryTimeout, at.diag)
	phase("delivered through the second relay")
}
