package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/amtrelay"
	"github.com/amtctl/amtctl/pkg/driad"
)

// The zones BIND serves for the relay lookup tests. 203.0.113.0/24 is
// configured but its file does not load: BIND answers SERVFAIL for it.
const revZone = `$ORIGIN 100.51.198.in-addr.arpa.
$TTL 300
@   IN SOA ns.example.test. host.example.test. 1 3600 600 86400 60
@   IN NS  ns.example.test.
; every relay type, several precedences, a tie at 10
12  IN AMTRELAY 10 1 1 203.0.113.16
12  IN AMTRELAY 5 0 2 2001:db8::15
12  IN AMTRELAY 30 0 0 .
12  IN AMTRELAY 20 0 3 relays.example.test.
12  IN AMTRELAY 10 0 1 203.0.113.15
13  IN CNAME 12
14  IN AMTRELAY 10 1 3 alias.example.test.
15  IN AMTRELAY 10 0 2 2001:db8::1
15  IN AMTRELAY 20 1 2 2001:db8::2
16  IN AMTRELAY 0 0 0 .
16  IN AMTRELAY 10 0 1 203.0.113.15
18  IN AMTRELAY 10 0 3 nowhere.example.test.
19  IN TXT "no relay here"
`

const exampleZone = `$ORIGIN example.test.
$TTL 600
@      IN SOA ns host 1 3600 600 86400 60
@      IN NS  ns
ns     IN A   127.0.0.1
relays IN A   203.0.113.31
relays IN A   203.0.113.30
alias  IN CNAME relays
`

// startBIND runs named on a free loopback port with the zones above and
// returns its address. It skips when named is missing, except under CI
// (CI=true), where .ci/run installs it and a missing server is a failure.
func startBIND(t *testing.T) netip.AddrPort {
	t.Helper()
	named, err := exec.LookPath("named")
	if err != nil {
		named = "/usr/sbin/named"
		if _, err := os.Stat(named); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("named (Debian package bind9) is not installed; .ci/run installs it")
			}
			t.Skip("named not installed (apt-get install bind9 bind9-dnsutils, or make unit as root)")
		}
	}
	dir := t.TempDir()
	// Many AMTRELAY records at 21: the answer does not fit 512 bytes, so
	// the UDP answer is truncated and the lookup retries over TCP.
	var big strings.Builder
	big.WriteString(revZone)
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&big, "21  IN AMTRELAY %d 0 1 203.0.113.%d\n", 100+i, i)
	}
	files := map[string]string{
		"rev.zone":     big.String(),
		"example.zone": exampleZone,
		"broken.zone":  "this is not a zone file\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	conf := fmt.Sprintf(`options {
	directory %q;
	pid-file none;
	session-keyfile none;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
zone "100.51.198.in-addr.arpa" { type primary; file "rev.zone"; };
zone "example.test" { type primary; file "example.zone"; };
zone "113.0.203.in-addr.arpa" { type primary; file "broken.zone"; };
`, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(named, "-g", "-n", "1", "-c", filepath.Join(dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("named's log:\n%s", log.String())
		}
	})
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	r := &driad.Resolver{Servers: []netip.AddrPort{addr}, Timeout: 200 * time.Millisecond, Attempts: 1}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := r.Lookup(context.Background(), netip.MustParseAddr("198.51.100.12"))
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("named on %v did not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port that is free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

func relayRun(t *testing.T, env relayEnv, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand(nil, hooks{})
	for _, c := range root.Commands() {
		if c.Name() == "relay" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newRelayCommand(env))
	code := Execute(root, args, &out, &errb)
	return code, out.String(), errb.String()
}

// reverse is a Shuffle that reverses each run of ties.
func reverse(n int, swap func(i, j int)) {
	for i := 0; i < n/2; i++ {
		swap(i, n-1-i)
	}
}

func TestRelayLookupAgainstBIND(t *testing.T) {
	addr := startBIND(t)
	dns := addr.String()
	keep := relayEnv{shuffle: func(int, func(i, j int)) {}}

	code, out, errOut := relayRun(t, keep, "relay", "lookup", "198.51.100.12", "--dns", dns)
	want := fmt.Sprintf(`AMTRELAY 12.100.51.198.in-addr.arpa. from %s, TTL 300
PRECEDENCE  D  TYPE  RELAY                 ADDRESS                    NOTE
5           0  ipv6  2001:db8::15          -                          IPv6 relay: not used, the kernel's AMT tunnel is IPv4
10          0  ipv4  203.0.113.15          203.0.113.15               chosen
10          1  ipv4  203.0.113.16          203.0.113.16
20          0  name  relays.example.test.  203.0.113.30,203.0.113.31
30          0  none  .                     -
relay 203.0.113.15 (discovery required, precedence 10), TTL 300
`, dns)
	if code != 0 || out != want || errOut != "" {
		t.Errorf("lookup 198.51.100.12: code %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}

	// The other way round through the tie: 203.0.113.16, discovery optional.
	code, out, _ = relayRun(t, relayEnv{shuffle: reverse}, "relay", "lookup", "198.51.100.12", "--dns", dns)
	lines := strings.Split(out, "\n")
	if code != 0 || len(lines) < 5 || !strings.Contains(out, "\nrelay 203.0.113.16 (discovery optional, precedence 10), TTL 300\n") ||
		!strings.HasPrefix(lines[3], "10          1  ipv4  203.0.113.16") || !strings.HasSuffix(lines[3], "chosen") ||
		!strings.HasPrefix(lines[4], "10          0  ipv4  203.0.113.15") || strings.HasSuffix(lines[4], "chosen") {
		t.Errorf("lookup with reversed ties: code %d, stdout:\n%s", code, out)
	}

	// The default random tie-break picks one of the two and nothing else.
	seen := map[string]bool{}
	for range 40 {
		code, out, _ := relayRun(t, relayEnv{}, "-j", "relay", "lookup", "198.51.100.12", "--dns", dns)
		i := strings.Index(out, `"relay":"203.0.113.`)
		if code != 0 || i < 0 {
			t.Fatalf("random lookup: code %d, %s", code, out)
		}
		seen[out[i+9:i+21]] = true
	}
	if len(seen) != 2 || !seen["203.0.113.15"] || !seen["203.0.113.16"] {
		t.Errorf("40 random lookups chose %v; want both 203.0.113.15 and 203.0.113.16", seen)
	}

	for _, c := range []struct {
		name, source string
		code         int
		out, err     string
	}{
		{"CNAME in the answer", "198.51.100.13", 0, "AMTRELAY 13.100.51.198.in-addr.arpa. (CNAME 12.100.51.198.in-addr.arpa.) from " + dns + ", TTL 300\n", ""},
		{"name via CNAME, TTL of the A", "198.51.100.14", 0, "\nrelay 203.0.113.30 (discovery optional, precedence 10), TTL 300\n", ""},
		{"only IPv6", "198.51.100.15", 1, "2001:db8::2", "amtctl: relay lookup 198.51.100.15: asked " + dns + " for AMTRELAY 15.100.51.198.in-addr.arpa., got only IPv6 relays (2001:db8::1, 2001:db8::2), but the kernel's AMT tunnel is IPv4\n"},
		{"type 0 first", "198.51.100.16", 1, "0           0  none", "amtctl: relay lookup 198.51.100.16: asked " + dns + ` for AMTRELAY 16.100.51.198.in-addr.arpa., got "0 0 0 .": relay type 0 at precedence 0, which says no AMT relay should be used for this source` + "\n"},
		{"name without A", "198.51.100.18", 1, "nowhere.example.test.", "amtctl: relay lookup 198.51.100.18: asked " + dns + ` for AMTRELAY 18.100.51.198.in-addr.arpa., got no IPv4 relay the kernel's AMT gateway can use: "10 0 3 nowhere.example.test." (asked ` + dns + " for A nowhere.example.test., got NXDOMAIN (no such name))\n"},
		{"no AMTRELAY record", "198.51.100.19", 1, "", "amtctl: relay lookup 198.51.100.19: asked " + dns + " for AMTRELAY 19.100.51.198.in-addr.arpa., got no AMTRELAY record (NOERROR, empty answer)\n"},
		{"NXDOMAIN", "198.51.100.99", 1, "", "amtctl: relay lookup 198.51.100.99: asked " + dns + " for AMTRELAY 99.100.51.198.in-addr.arpa., got NXDOMAIN (no such name)\n"},
		{"zone that failed to load: SERVFAIL", "203.0.113.5", 1, "", "amtctl: relay lookup 203.0.113.5: asked " + dns + " for AMTRELAY 5.113.0.203.in-addr.arpa., got SERVFAIL (the server could not answer: a zone it failed to load, or a broken delegation)\n"},
		{"zone not served: REFUSED", "192.0.2.1", 1, "", "amtctl: relay lookup 192.0.2.1: asked " + dns + " for AMTRELAY 1.2.0.192.in-addr.arpa., got REFUSED (the server will not answer this name: not its zone, and no recursion for us)\n"},
		{"IPv6 source, not served", "2001:db8::12", 1, "", "got REFUSED"},
		{"truncated over UDP, asked again over TCP", "198.51.100.21", 0, "\nrelay 203.0.113.1 (discovery required, precedence 101), TTL 300\n", ""},
	} {
		code, out, errOut := relayRun(t, keep, "relay", "lookup", c.source, "--dns", dns)
		if code != c.code || !strings.Contains(out, c.out) || (c.err == "" && errOut != "") || !strings.Contains(errOut, c.err) || strings.Count(errOut, "\n") > 1 {
			t.Errorf("%s: lookup %s: code %d (want %d), stdout:\n%s\nstderr %q (want %q)", c.name, c.source, code, c.code, out, errOut, c.err)
		}
	}
	if _, out, _ := relayRun(t, keep, "relay", "lookup", "198.51.100.21", "--dns", dns); strings.Count(out, " ipv4 ") != 40 {
		t.Errorf("the TCP answer has %d IPv4 records, want 40:\n%s", strings.Count(out, " ipv4 "), out)
	}
}

// TestRelayLookupMatchesDig checks the codec against BIND's dig: the
// presentation dig prints, parsed by amtrelay.Parse, and the RFC 3597 form
// of the same records (dig +unknownformat, BIND's wire bytes), must both
// equal what amtrelay.Decode made of the answer the lookup received.
func TestRelayLookupMatchesDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dig (Debian package bind9-dnsutils) is not installed; .ci/run installs it")
		}
		t.Skip("dig not installed (apt-get install bind9-dnsutils)")
	}
	addr := startBIND(t)
	r := &driad.Resolver{Servers: []netip.AddrPort{addr}, Timeout: time.Second, Attempts: 2}
	for _, source := range []string{"198.51.100.12", "198.51.100.14", "198.51.100.15", "198.51.100.16", "198.51.100.21"} {
		res, err := r.Lookup(context.Background(), netip.MustParseAddr(source))
		if res == nil {
			t.Fatalf("lookup %s: %v", source, err)
		}
		var ours []string
		for _, c := range res.Candidates {
			ours = append(ours, c.Record.String())
		}
		slices.Sort(ours)
		for _, format := range []string{"+nounknownformat", "+unknownformat"} {
			cmd := exec.Command(dig, "+short", "+norec", format, "-p", fmt.Sprint(addr.Port()), "@"+addr.Addr().String(), "TYPE260", res.Name)
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", cmd.Args, err)
			}
			var theirs []string
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				rec, err := amtrelay.Parse(line)
				if err != nil {
					t.Errorf("dig %s %s printed %q, which amtrelay.Parse refuses: %v", format, res.Name, line, err)
					continue
				}
				theirs = append(theirs, rec.String())
			}
			slices.Sort(theirs)
			if !slices.Equal(ours, theirs) {
				t.Errorf("%s: dig %s gives\n%q\nthe lookup decoded\n%q", res.Name, format, theirs, ours)
			}
		}
	}
}
