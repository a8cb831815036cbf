package cli

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/pkg/mcprobe"
)

// Bad input is refused with exit 2 and one line naming the field, before
// any namespace, socket or link is opened.
func TestProbeSendBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "probe needs a group; usage: amtctl [-n NS] probe GROUP [source S] [port P] [dev LINK]"},
		{[]string{"probe", "10.0.0.1"}, `group "10.0.0.1": not a multicast address; give an IPv4 group in 224.0.0.0/4`},
		{[]string{"probe", "232.1.1.1", "source", "232.1.1.2"}, `source "232.1.1.2": not a unicast IP address`},
		{[]string{"probe", "232.1.1.1", "source", "2001:db8::1"}, `source "2001:db8::1": of another IP version than group 232.1.1.1`},
		{[]string{"probe", "232.1.1.1", "port", "0"}, `port "0": not a UDP port; use a number from 1 to 65535, or leave it out for 5001`},
		{[]string{"probe", "232.1.1.1", "port", "70000"}, `port "70000": not a UDP port`},
		{[]string{"probe", "232.1.1.1", "dev"}, "probe: dev needs a value (LINK)"},
		{[]string{"probe", "232.1.1.1", "dev", "a/b"}, `dev "a/b"`},
		{[]string{"probe", "232.1.1.1", "port", "1", "port", "2"}, "probe: port given twice"},
		{[]string{"probe", "232.1.1.1", "via", "eth0"}, `probe: unknown keyword "via"`},
		{[]string{"probe", "232.1.1.1", "--timeout", "0s"}, `--timeout "0s": not a positive duration`},
		{[]string{"probe", "232.1.1.1", "--count", "-1"}, `invalid argument "-1" for "--count"`},
		{[]string{"send"}, "send needs a group; usage: amtctl [-n NS] send GROUP [port P]"},
		{[]string{"send", "ff02::1x"}, `group "ff02::1x": not a multicast address`},
		{[]string{"send", "ff3e::1", "port", "x"}, `port "x": not a UDP port`},
		{[]string{"send", "ff3e::1", "port"}, "send: port needs a value (P)"},
		{[]string{"send", "ff3e::1", "port", "5", "6"}, `send: unexpected "6"`},
		{[]string{"send", "ff3e::1", "dev", "eth0"}, `send: unknown keyword "dev"`},
		{[]string{"send", "232.1.1.1", "--size", "27"}, `--size "27": out of range; give a UDP payload size from 28 (the header) to 65507`},
		{[]string{"send", "232.1.1.1", "--ttl", "0"}, `--ttl "0": out of range`},
		{[]string{"send", "232.1.1.1", "--rate", "-5"}, `--rate "-5": negative`},
		{[]string{"send", "232.1.1.1", "--from", "232.1.1.1"}, `--from "232.1.1.1": not a unicast IP address`},
		{[]string{"send", "232.1.1.1", "--from", "2001:db8::1"}, `--from "2001:db8::1": of another IP version than group 232.1.1.1`},
	} {
		f := newFake()
		code, out, errOut := run(t, f, c.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("amtctl %q: exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", c.args, code, out, errOut, c.want)
		}
		if len(f.opened) != 0 {
			t.Errorf("amtctl %q: opened %q before the input was checked", c.args, f.opened)
		}
	}
}

func TestPlaceProbe(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks() // amtr (relay), amtg (gateway), amtg2 (gateway, master br0)
	f.ifs = append(f.ifs, Interface{Index: 5, Name: "amtr"}, Interface{Index: 6, Name: "amtg"}, Interface{Index: 7, Name: "amtg2"})
	for i := range f.ifs {
		if f.ifs[i].Name == "br0" {
			f.ifs[i].Index = 4
		}
	}
	for _, c := range []struct {
		dev  string
		want probePlace
	}{
		{"amtg", probePlace{joinDev: "amtg", ifindex: 6, gateway: "amtg"}},
		{"amtg2", probePlace{joinDev: "br0", ifindex: 4, gateway: "amtg2"}},                                                                          // the bridge's
		{"br0", probePlace{joinDev: "br0", ifindex: 4, gateway: "amtg2"}},                                                                            // the gateway on br0
		{"amtr", probePlace{joinDev: "amtr", ifindex: 5, noGW: "2 amt gateway links in this network namespace; name the one to ask about with dev"}}, // a relay is no gateway
		{"eth0", probePlace{joinDev: "eth0", noGW: "2 amt gateway links in this network namespace; name the one to ask about with dev"}},
		{"", probePlace{noGW: "2 amt gateway links in this network namespace; name the one to ask about with dev"}},
	} {
		got, err := placeProbe(f, c.dev, "")
		if err != nil || got != c.want {
			t.Errorf("dev %q: %+v, %v; want %+v", c.dev, got, err, c.want)
		}
	}
	if _, err := placeProbe(f, "nope", "gw"); err == nil || exitCode(err) != ExitError || !strings.Contains(err.Error(), `dev "nope" not found in network namespace "gw"`) {
		t.Errorf("missing dev: %v", err)
	}
	f.links = f.links[:2] // one gateway: found without dev
	if got, _ := placeProbe(f, "", ""); got != (probePlace{joinDev: "amtg", ifindex: 6, gateway: "amtg"}) {
		t.Errorf("one gateway, no dev: %+v", got)
	}
}

func TestDiagnoseProbe(t *testing.T) {
	t.Parallel()
	p := probeArgs{group: netip.MustParseAddr("232.1.1.1"), source: netip.MustParseAddr("192.0.2.10"), port: 5001}
	pl := probePlace{joinDev: "br0", ifindex: 4, gateway: "amtg"}
	relay := netip.MustParseAddr("10.0.0.2")
	disc := netip.MustParseAddr("10.0.0.9")
	for _, c := range []struct {
		name          string
		pl            probePlace
		before, after gatewayState
		reports       int
		want          string
	}{
		{"no relay", pl, gatewayState{ok: true, up: true, discovery: disc, rx: 5}, gatewayState{ok: true, up: true, discovery: disc, rx: 5}, 2,
			"probe: no datagram for (192.0.2.10, 232.1.1.1) port 5001 within 3s; join sent (2 IGMPv3 reports for 232.1.1.1 left br0); " +
				"gateway amtg has not learned a relay (discovery 10.0.0.9 unanswered) and received 0 packets meanwhile; without a relay it passes no join on"},
		{"no route", pl, gatewayState{ok: true, up: true, relay: relay, rx: 5}, gatewayState{ok: true, up: true, relay: relay, rx: 7}, 1,
			"probe: no datagram for (192.0.2.10, 232.1.1.1) port 5001 within 3s; join sent (1 IGMPv3 reports for 232.1.1.1 left br0); " +
				"gateway amtg knows relay 10.0.0.2 and received 2 packets meanwhile, none for this group: the relay has no route or source for it, or the source sends nothing"},
		{"down, join not sent", pl, gatewayState{ok: true}, gatewayState{ok: true}, 0,
			"probe: no datagram for (192.0.2.10, 232.1.1.1) port 5001 within 3s; join not sent: no IGMPv3 report for 232.1.1.1 left br0 (is it up?); gateway amtg is down (amtctl set amtg up)"},
		{"no gateway, not watched", probePlace{noGW: "no amt gateway link in this network namespace to ask about its relay"}, gatewayState{}, gatewayState{}, -1,
			"probe: no datagram for (192.0.2.10, 232.1.1.1) port 5001 within 3s; joined on the device the routing table picks (no device given to watch for the report); " +
				"no amt gateway link in this network namespace to ask about its relay"},
	} {
		d := diagnoseProbe(c.pl, c.before, c.after, c.reports, p, 3*time.Second)
		if d.line != c.want || d.Explanation != d.line {
			t.Errorf("%s:\n got %q\nwant %q", c.name, d.line, c.want)
		}
	}
}

func TestCompleteProbe(t *testing.T) {
	t.Parallel()
	_, out, _ := run(t, newFake(), "__complete", "probe", "232.1.1.1", "source", "192.0.2.1", "")
	if got := strings.Fields(out); len(got) < 2 || got[0] != "port" || got[1] != "dev" {
		t.Errorf("probe keywords after source: %q", out)
	}
	_, out, _ = run(t, newFake(), "__complete", "probe", "232.1.1.1", "dev", "e")
	if !strings.HasPrefix(out, "eth0\n") {
		t.Errorf("probe dev completion: %q", out)
	}
}

// The report as text and as JSON, from a Tracker fed as a probe would.
func TestProbeReport(t *testing.T) {
	t.Parallel()
	start := time.Unix(1700000000, 0)
	tr := mcprobe.NewTracker(start)
	from := netip.MustParseAddr("192.0.2.10")
	for i, seq := range []uint32{7, 8, 10, 10, 12, 11} {
		b, _ := mcprobe.Header{Session: 0xabc, Seq: seq}.AppendBinary(nil)
		tr.Add(from, append(b, make([]byte, 36)...), start.Add(250*time.Millisecond+time.Duration(i)*100*time.Millisecond))
	}
	tr.Add(from, []byte("plain"), start.Add(time.Second))
	rep := tr.Report()
	v := probeView{Group: "232.1.1.1", Source: "192.0.2.10", Port: 5001, Device: "br0", Gateway: "amtg"}
	v.fill(rep)
	var b strings.Builder
	printProbe(&b, v, rep)
	want := `(192.0.2.10, 232.1.1.1) port 5001: first datagram after 250ms; 7 datagrams, 389 bytes in 750ms: 8 datagrams/s, 445 bytes/s
sender 192.0.2.10 session 0000000000000abc: sequence 7 to 12, received 5, lost 1, duplicates 1, reordered 1
1 datagrams were not numbered (not from amtctl send): no loss figures for them
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	var out strings.Builder
	if err := writeJSON(&out, v, false); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"group":"232.1.1.1","source":"192.0.2.10","port":5001,"dev":"br0","gateway":"amtg","datagrams":7,"bytes":389,"first_after_s":0.25,"span_s":0.75,` +
		`"datagrams_per_s":8,"bytes_per_s":444.5714285714286,"unnumbered":1,"received":5,"lost":1,"duplicates":1,"reordered":1,` +
		`"senders":[{"from":"192.0.2.10","session":"0000000000000abc","first_seq":7,"last_seq":12,"received":5,"lost":1,"duplicates":1,"reordered":1}]}` + "\n"
	if out.String() != wantJSON {
		t.Errorf("JSON:\n%s\nwant:\n%s", out.String(), wantJSON)
	}
}

// The help texts written as literals, so that start-up builds nothing,
// still say what the code does.
func TestProbeSendHelpLiterals(t *testing.T) {
	t.Parallel()
	if w := lookupProbeWord("port"); !strings.Contains(w.help, "(default "+strconv.Itoa(defaultProbePort)+")") {
		t.Errorf("port's help %q does not name the default %d", w.help, defaultProbePort)
	}
	root := newRootCommand(newFake().open, hooks{})
	describe(root)
	send, _, err := root.Find([]string{"send"})
	if err != nil {
		t.Fatal(err)
	}
	if u := send.Flags().Lookup("size").Usage; !strings.Contains(u, strconv.Itoa(mcprobe.MinSize)+" to "+strconv.Itoa(mcprobe.MaxSize)) {
		t.Errorf("--size's help %q does not name %d to %d", u, mcprobe.MinSize, mcprobe.MaxSize)
	}
	_, out, _ := run(t, newFake(), "probe", "--help")
	for _, w := range probeWords {
		if !strings.Contains(out, "  "+w.name+" "+w.arg+" ") || !strings.Contains(out, w.help) {
			t.Errorf("probe --help lacks keyword %s: %s", w.name, out)
		}
	}
}

// probe's and send's flags are added only when needed: for the command
// run, the one completed, help, and a batch line.
func TestProbeSendFlagsLater(t *testing.T) {
	t.Parallel()
	_, out, _ := run(t, newFake(), "__complete", "probe", "232.1.1.1", "--ti")
	if !strings.HasPrefix(out, "--timeout\t") {
		t.Errorf("completing probe --ti: %q", out)
	}
	_, out, _ = run(t, newFake(), "send", "--help")
	if !strings.Contains(out, "--rate float") || !strings.Contains(out, "--from string") {
		t.Errorf("send --help lacks its flags: %s", out)
	}
	dir := t.TempDir()
	file := dir + "/batch"
	if err := os.WriteFile(file, []byte("send 232.1.1.1 --size 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, newFake(), "-batch", file)
	if code == 0 || !strings.Contains(errOut, `line 1: --size "1": out of range`) {
		t.Errorf("a batch's send line with --size: exit %d, %q", code, errOut)
	}
	root := newRootCommand(newFake().open, hooks{})
	probe, _, _ := root.Find([]string{"probe"})
	if probe.Flags().Lookup("timeout") != nil {
		t.Error("probe's flags were added while the tree was built")
	}
}
