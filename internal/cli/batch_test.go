package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const batchFile = `# two relays and a gateway
add amtr mode relay local 10.0.0.1 dev eth0 up

add "amtr2" mode relay local 10.0.0.1 dev eth0 relay_port 2300   # a comment after the words
-n gw add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0
show amtr
del amtr2
`

func TestBatchOneBackendPerNamespace(t *testing.T) {
	t.Parallel()
	cur, gw := newFake(), newFake()
	m := multiFake{"": cur, "gw": gw}
	for _, flag := range []string{"-batch", "--batch", "-b"} {
		cur.links, gw.links, cur.opened, gw.opened, cur.closed, gw.closed = nil, nil, nil, nil, 0, 0
		code, out, errOut := runWith(t, m.open, batchFile, flag, "-")
		if code != 0 || errOut != "" {
			t.Fatalf("%s: code %d stderr %q", flag, code, errOut)
		}
		if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "amtr ") {
			t.Errorf("%s: stdout %q: want the table of show amtr", flag, out)
		}
		if len(cur.opened) != 1 || cur.closed != 1 || len(gw.opened) != 1 || gw.closed != 1 {
			t.Errorf("%s: opened %q/%q closed %d/%d: want one backend per namespace for the whole batch, closed once",
				flag, cur.opened, gw.opened, cur.closed, gw.closed)
		}
		var names []string
		for _, l := range cur.links {
			names = append(names, l.Name)
		}
		if diff := cmp.Diff([]string{"amtr"}, names); diff != "" || gw.find("amtg") < 0 {
			t.Errorf("%s: links (-want +got):\n%s gw: %+v", flag, diff, gw.links)
		}
	}
}

func TestBatchGlobalFlagsApplyToEveryLine(t *testing.T) {
	t.Parallel()
	gw := newFake()
	code, out, errOut := runWith(t, multiFake{"gw": gw}.open, "add amtr mode relay local 10.0.0.1 dev eth0\nshow\n", "-n", "gw", "-j", "-batch", "-")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, `[{"ifindex"`) || gw.find("amtr") < 0 {
		t.Errorf("code %d stdout %q stderr %q: want JSON from both lines, in netns gw", code, out, errOut)
	}
}

func TestBatchStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	f := newFake()
	in := "add amta mode relay local 10.0.0.1 dev eth0\n\n# comment\nadd amtb mode relay local 10.0.0.300 dev eth0\nadd amtc mode relay local 10.0.0.1 dev eth0\n"
	code, _, errOut := runWith(t, f.open, in, "-batch", "-")
	want := "amtctl: line 4: local \"10.0.0.300\": not an IP address; use an IPv4 unicast address such as 192.0.2.1\n"
	if code != ExitError || errOut != want {
		t.Errorf("code %d stderr %q; want 1 and %q", code, errOut, want)
	}
	if f.find("amta") < 0 || f.find("amtc") >= 0 {
		t.Errorf("links %+v: want amta only (the batch stops at line 4)", f.links)
	}
	if f.closed != len(f.opened) {
		t.Errorf("opened %d closed %d", len(f.opened), f.closed)
	}
}

func TestBatchForceGoesOn(t *testing.T) {
	t.Parallel()
	f := newFake()
	in := "add amta mode relay local 10.0.0.1 dev eth0\nadd amta mode relay local 10.0.0.1 dev eth0\nfrobnicate\nadd amtc mode relay local 10.0.0.1 dev eth0 relay_port 2300\nadd \"amtd mode relay\n"
	code, _, errOut := runWith(t, f.open, in, "-force", "-batch", "-")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != ExitError || len(lines) != 4 {
		t.Fatalf("code %d stderr:\n%s\nwant exit 1 and four lines", code, errOut)
	}
	for i, want := range []string{
		`amtctl: line 2: add amta: a link named "amta" already exists`,
		`amtctl: line 3: unknown command "frobnicate" for "amtctl"`,
		`amtctl: line 5: unterminated double quote`,
		`amtctl: -batch: 3 of 5 commands failed`,
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("stderr line %d: %q, want it to start %q", i+1, lines[i], want)
		}
	}
	if f.find("amta") < 0 || f.find("amtc") < 0 {
		t.Errorf("links %+v: want amta and amtc", f.links)
	}
}

func TestBatchErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		in   string
		code int
		want string
	}{
		{[]string{"-batch", "-"}, "-batch other.txt\n", ExitError, "amtctl: line 1: -batch inside a batch file"},
		{[]string{"-batch", "/nonexistent/x"}, "", ExitUsage, `amtctl: -batch: file "/nonexistent/x" not found`},
		{[]string{"-batch", "-", "frob"}, "", ExitUsage, "amtctl: -batch takes no commands on the command line"},
		{[]string{"-force"}, "", ExitUsage, "amtctl: -force needs -batch FILE"},
		{[]string{"frob"}, "", ExitUsage, `amtctl: unknown command "frob" for "amtctl"; see "amtctl --help"`},
	} {
		f := newFake()
		code, _, errOut := runWith(t, f.open, tc.in, tc.args...)
		if code != tc.code || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("amtctl %q: code %d stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// No flags and no command: help, as before.
	code, out, _ := runWith(t, newFake().open, "")
	if code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("amtctl alone: code %d, stdout lacks help", code)
	}
}

func TestSplitBatchLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   # all comment", nil},
		{"add a  b\tc", []string{"add", "a", "b", "c"}},
		{`add "a b" x"y z"w`, []string{"add", "a b", "xy zw"}},
		{`add ""`, []string{"add", ""}},
		{"del x # gone", []string{"del", "x"}},
		{"del x#y", []string{"del", "x#y"}},
	} {
		got, err := splitBatchLine(tc.in)
		if err != nil || !cmp.Equal(tc.want, got) {
			t.Errorf("splitBatchLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestBatchArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-batch", "f", "-force"}, []string{"--batch", "f", "--force"}},
		{[]string{"-n", "-batch", "-batch", "f"}, []string{"-n", "-batch", "--batch", "f"}},
		{[]string{"add", "x", "-batch"}, []string{"add", "x", "-batch"}},
	} {
		if got := batchArgs(tc.in); !cmp.Equal(tc.want, got) {
			t.Errorf("batchArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBatchFlagsDoNotLeak checks that a flag one line sets is back to its
// default on the next: the lines share one command tree.
func TestBatchFlagsDoNotLeak(t *testing.T) {
	t.Parallel()
	cur, gw := newFake(), newFake()
	m := multiFake{"": cur, "gw": gw}
	file := writeFile(t, "l.yaml", "links:\n  - {name: amtn, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: 2300}\n")
	in := "-n gw -j add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0\n" +
		"add amtr mode relay local 10.0.0.1 dev eth0\n" +
		"-j show\n" +
		"show\n" +
		"apply -f " + file + " --dry-run\n" +
		"apply -f " + file + "\n"
	code, out, errOut := runWith(t, m.open, in, "-batch", "-")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], `[{"ifindex"`) || !strings.Contains(lines[0], `"amtg"`) ||
		!strings.HasPrefix(lines[1], `[{"ifindex"`) || !strings.Contains(lines[1], `"amtr"`) ||
		!strings.HasPrefix(lines[2], "NAME") || !strings.HasPrefix(lines[3], "amtr ") {
		t.Errorf("stdout:\n%s\nwant: JSON of amtg (add -j), JSON of amtr (show -j), then a table of amtr (show)", out)
	}
	if cur.find("amtn") < 0 {
		t.Errorf("--dry-run leaked to the next apply: links %+v", cur.links)
	}
	if gw.find("amtg") < 0 || cur.find("amtr") < 0 || gw.find("amtr") >= 0 {
		t.Errorf("-n gw leaked to the next line: gw %+v, current %+v", gw.links, cur.links)
	}
}

// TestBatchWarningsFromOneList: a batch of adds reads the device list once
// per namespace and answers every line's warnings from it, instead of one
// device lookup per line.
func TestBatchWarningsFromOneList(t *testing.T) {
	t.Parallel()
	f := newFake()
	in := "add amt1 mode relay local 10.0.0.9 dev veth0\nadd amt2 mode relay local 10.0.0.9 dev veth0 relay_port 3000\n"
	code, out, errOut := runWith(t, f.open, in, "-batch", "-")
	if code != 0 || out != "" {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	if n := strings.Count(errOut, "amtctl: warning: dev veth0 is down"); n != 2 {
		t.Errorf("stderr has %d dev-down warnings, want one per line:\n%s", n, errOut)
	}
	if len(f.lookups) != 0 {
		t.Errorf("Interface lookups %q: want none, the batch's one list answers", f.lookups)
	}
}

// TestBatchQuickLineSameAsTree runs batch lines through quickLine and
// through the command tree and wants the same output, exit status,
// backend calls and links from both.
func TestBatchQuickLineSameAsTree(t *testing.T) {
	t.Parallel()
	lines := []string{
		"add amtr mode relay local 10.0.0.1 dev eth0",
		"add amtr mode relay local 10.0.0.1 dev eth0 relay_port 2300 max_tunnels 4 mtu 1400 master br0 up",
		"add amtg mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0 gateway_port 2268 relay_port 2268 up",
		"add name amtn type amt mode relay local 10.0.0.1 dev eth0",
		"add amtw mode relay local 192.0.2.9 dev veth0",               // warnings: dev down, local not on dev
		"add amtx mode relay local 10.0.0.300 dev eth0",               // bad value
		"add amtx mode relay local 10.0.0.1",                          // no dev
		"add amtx mode gateway local 10.0.0.1 dev eth0 max_tunnels 3", // wrong mode
		"add amtx mode relay local 10.0.0.1 dev nosuch",
		"add amtx help",
		"add amtx mode relay local 10.0.0.1 dev eth0 bogus",
		"add a/b mode relay local 10.0.0.1 dev eth0",
		"add -n gw amtx mode relay local 10.0.0.1 dev eth0",
		"add --help",
		"add",
		"del amtr", "delete amtr", "del nosuch", "del a/b", "del amtr amtg", "del",
	}
	for _, global := range [][]string{nil, {"-j"}, {"-n", "gw"}} {
		for _, line := range lines {
			// Each line after an add of amtr, so that del and
			// duplicate adds have something to find.
			in := "add amtr mode relay local 10.0.0.1 dev eth0\n" + line + "\n"
			type result struct {
				Code        int
				Out, ErrOut string
				Links       []string
				Creates     int
				Deletes     []string
			}
			runOnce := func(quick bool) result {
				m := multiFake{"": newFake(), "gw": newFake()}
				args := append(append([]string(nil), global...), "-force", "-batch", "-")
				code, out, errOut := runWithHooks(t, m.open, hooks{noQuick: !quick}, in, args...)
				f := m[""]
				if len(global) > 0 && global[0] == "-n" {
					f = m["gw"]
				}
				var names []string
				for _, l := range f.links {
					names = append(names, l.Name)
				}
				return result{code, out, errOut, names, len(f.creates), f.deletes}
			}
			quick, tree := runOnce(true), runOnce(false)
			if diff := cmp.Diff(tree, quick); diff != "" {
				t.Errorf("global %q, line %q: quickLine differs from the tree (-tree +quick):\n%s", global, line, diff)
			}
		}
	}
}

// splitBatchLineRef is the first, plain version of splitBatchLine: one
// builder per word. The faster one must split every line the same way.
func splitBatchLineRef(line string) ([]string, error) {
	var words []string
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ', '\t', '\r':
			i++
			continue
		case '#':
			return words, nil
		}
		var w strings.Builder
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			if line[i] == '"' {
				end := strings.IndexByte(line[i+1:], '"')
				if end < 0 {
					return nil, usagef("unterminated double quote; close it or remove it")
				}
				w.WriteString(line[i+1 : i+1+end])
				i += end + 2
				continue
			}
			w.WriteByte(line[i])
			i++
		}
		words = append(words, w.String())
	}
	return words, nil
}

func FuzzSplitBatchLine(f *testing.F) {
	for _, s := range []string{"", "add a  b\tc", `add "a b" x"y z"w`, `add ""`, "del x # gone", "del x#y", `a"b`, "\r\t#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, gerr := splitBatchLine(line)
		want, werr := splitBatchLineRef(line)
		if (gerr == nil) != (werr == nil) || !cmp.Equal(want, got) {
			t.Fatalf("splitBatchLine(%q) = %q, %v; the reference gives %q, %v", line, got, gerr, want, werr)
		}
	})
}

// TestBatchMonitor: monitor runs in a batch as on the command line; the
// shared backend passes Watch through like every other method.
func TestBatchMonitor(t *testing.T) {
	t.Parallel()
	w := &watchFake{fake: newFake(), events: sampleEvents()[:2]}
	code, out, errOut := runWith(t, w.open, "monitor\n", "-batch", "-")
	if code != 0 || out != "created amtg gateway local 10.0.0.2 dev veth-g\ncreated amtr relay local 10.0.0.1 dev veth-r\n" {
		t.Errorf("code %d stdout %q stderr %q; want 0 and the two events", code, out, errOut)
	}
}

// TestBatchRefuses: the commands that make no sense in a batch are refused
// with one line naming them, and the batch goes on with -force.
func TestBatchRefuses(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"completion bash", "-n gw completion zsh", "__complete add ''", "-j -batch other.txt"} {
		f := newFake()
		code, out, errOut := runWith(t, multiFake{"": f, "gw": newFake()}.open, line+"\nadd amtr mode relay local 10.0.0.1 dev eth0\n", "-force", "-batch", "-")
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != ExitError || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "amtctl: line 1: ") ||
			!(strings.Contains(lines[0], "cannot run in a batch") || strings.Contains(lines[0], "-batch inside a batch file")) {
			t.Errorf("line %q: code %d stdout %q stderr %q; want 1 and one line refusing it", line, code, out, errOut)
		}
		if f.find("amtr") < 0 {
			t.Errorf("line %q: the next line did not run", line)
		}
	}
}
