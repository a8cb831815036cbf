package cli

import (
	"encoding/json"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want amtlink.Change
	}{
		{words("set amtg up"), amtlink.Change{Up: ifla.Ptr(true)}},
		{words("set amtr down"), amtlink.Change{Up: ifla.Ptr(false)}},
		{words("set amtg mtu 1400"), amtlink.Change{MTU: ifla.Ptr[uint32](1400)}},
		{words("set amtg master br0"), amtlink.Change{Master: ifla.Ptr("br0")}},
		{words("set amtg2 nomaster"), amtlink.Change{Master: ifla.Ptr("")}},
		{words("set amtg mtu 1400 master br0 up"), amtlink.Change{Up: ifla.Ptr(true), MTU: ifla.Ptr[uint32](1400), Master: ifla.Ptr("br0")}},
		// "ip link set dev NAME ..." pasted as is.
		{words("set dev amtg down nomaster"), amtlink.Change{Up: ifla.Ptr(false), Master: ifla.Ptr("")}},
	} {
		f := newFake()
		f.links = sampleLinks()
		code, out, errOut := run(t, f, tc.args...)
		if code != 0 || out != "" || errOut != "" {
			t.Errorf("amtctl %q: code %d stdout %q stderr %q; want 0 and silence", tc.args, code, out, errOut)
			continue
		}
		name := tc.args[1]
		if name == "dev" {
			name = tc.args[2]
		}
		want := []setCall{{Name: name, Ch: tc.want}}
		if diff := cmp.Diff(want, f.sets); diff != "" {
			t.Errorf("amtctl %q: Set calls (-want +got):\n%s", tc.args, diff)
		}
	}
}

func TestSetAppliesAndPrintsJSON(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.links = sampleLinks()
	code, out, errOut := run(t, f, words("-n gw -j set amtg up mtu 1300 master br0")...)
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if got[0]["ifname"] != "amtg" || got[0]["mtu"] != float64(1300) || got[0]["master"] != "br0" {
		t.Errorf("JSON of the changed link: %v", got[0])
	}
	if diff := cmp.Diff([]string{"gw"}, f.opened); diff != "" {
		t.Errorf("namespaces opened (-want +got):\n%s", diff)
	}
	l := f.links[1]
	if l.Flags&iffUp == 0 || l.MTU != 1300 || l.Master != "br0" {
		t.Errorf("fake link after set: %+v", l)
	}
}

func TestSetBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no name", words("set"), 2, []string{"set needs a link name", "usage: amtctl set NAME"}},
		{"nothing to change", words("set amtg"), 2, []string{"set amtg needs something to change", "up, down, mtu N, master BR or nomaster"}},
		{"name missing", words("set up"), 2, []string{`"up" is a set keyword, so the link name is missing`}},
		{"bad name", words("set amt/g up"), 2, []string{`name "amt/g"`, `contains "/"`}},
		{"unknown word", words("set amtg sideways"), 2, []string{`unknown keyword "sideways" for set`, "up, down, mtu, master, nomaster"}},
		{"up and down", words("set amtg up down"), 2, []string{`"up" and "down" contradict each other`}},
		{"master and nomaster", words("set amtg master br0 nomaster"), 2, []string{`"master" and "nomaster" contradict each other`}},
		{"mtu twice", words("set amtg mtu 1400 mtu 1300"), 2, []string{`"mtu" given twice`}},
		{"mtu without value", words("set amtg mtu"), 2, []string{`"mtu" needs a value`}},
		{"mtu not a number", words("set amtg mtu big"), 2, []string{`mtu "big"`, "68 to 65535"}},
		{"mtu too small", words("set amtg mtu 20"), 2, []string{`mtu "20"`}},
		{"mtu negative", words("set amtg mtu -1"), 2, []string{`mtu "-1"`}},
		{"master without value", words("set amtg master"), 2, []string{`"master" needs a value`, "nomaster"}},
		{"master bad name", words("set amtg master br:0"), 2, []string{`master "br:0"`}},
		{"master is itself", words("set amtg master amtg"), 2, []string{`master "amtg" is the link itself`}},
		{"flag after name", words("set amtg -j up"), 2, []string{`flag "-j" must come before the link name`}},
		{"local", words("set amtg local 10.0.0.9"), 2, []string{`"local" cannot be changed on an existing link`, "no changelink", "amtctl del amtg", "amtctl add amtg", "amtctl apply"}},
		{"mode", words("set amtg mode relay"), 2, []string{`"mode" cannot be changed`, "amtctl del amtg"}},
		{"discovery", words("set amtg up discovery 10.0.0.9"), 2, []string{`"discovery" cannot be changed`}},
		{"dev", words("set amtg dev eth1"), 2, []string{`"dev" cannot be changed`}},
		{"ports", words("set amtg relay_port 3000"), 2, []string{`"relay_port" cannot be changed`}},
		{"gateway port", words("set amtg gateway_port 3000"), 2, []string{`"gateway_port" cannot be changed`}},
		{"max_tunnels", words("set amtr max_tunnels 8"), 2, []string{`"max_tunnels" cannot be changed`}},
		{"remote", words("set amtg remote 10.0.0.1"), 2, []string{`"remote" is read-only`, "discovery ADDR"}},
		{"missing link", words("-n gw set nope up"), 1, []string{`no amt link "nope" in network namespace "gw"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.links = sampleLinks()
			before := append([]amtlink.Link(nil), f.links...)
			code, out, errOut := run(t, f, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			checkOneLine(t, errOut, tc.want)
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if tc.code == ExitUsage && (len(f.opened) != 0 || len(f.sets) != 0) {
				t.Errorf("usage error, yet the backend was opened %d times and Set called %d times", len(f.opened), len(f.sets))
			}
			if diff := cmp.Diff(before, f.links, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("links changed by a refused set (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSetKernelErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"not amt", words("set eth0 up"), &amtlink.Error{Op: "set", Name: "eth0", Err: amtlink.ErrNotAMT},
			"set eth0: eth0 is not an amt link; amtctl set changes amt links only (use ip link set for others)"},
		{"permission", words("set amtg up"), &amtlink.Error{Op: "set", Name: "amtg", Err: syscall.EPERM},
			"set amtg: permission denied; run as root or with CAP_NET_ADMIN"},
		{"missing master", words("set amtg master br9"), &amtlink.Error{Op: "set", Name: "amtg", Err: syscall.ENODEV},
			`set amtg: link "amtg" or master "br9" not found in this network namespace`},
		{"master takes no ports", words("set amtg master eth0"), &amtlink.Error{Op: "set", Name: "amtg", Err: amtlink.ErrNotSupported},
			`set amtg: master "eth0" cannot take ports`},
		{"kernel extack", words("set amtg mtu 9000"), &amtlink.Error{Op: "set", Name: "amtg", Message: "mtu greater than device maximum", Err: syscall.EINVAL},
			"set amtg: kernel: mtu greater than device maximum (invalid argument)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			f.links = sampleLinks()
			f.setErr = tc.err
			code, _, errOut := run(t, f, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			checkOneLine(t, errOut, []string{tc.want})
		})
	}
}

func TestSetHelpAndCompletion(t *testing.T) {
	t.Parallel()
	f := newFake()
	code, out, _ := run(t, f, "set", "--help")
	if code != 0 || !strings.Contains(out, "no changelink") || !strings.Contains(out, "amtctl apply") {
		t.Errorf("set --help: code %d, lacks the changelink explanation:\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"set", ""}, []string{"amtr", "amtg", "amtg2"}},
		{[]string{"set", "amtg", ""}, []string{"up", "down", "mtu", "master", "nomaster"}},
		{[]string{"set", "amtg", "up", "m"}, []string{"mtu", "master"}},
		{[]string{"set", "amtg", "master", ""}, []string{"br0", "eth0", "lo", "veth0"}},
		{[]string{"set", "amtg", "mtu", ""}, nil},
	} {
		f := newFake()
		f.links = sampleLinks()
		_, out, _ := run(t, f, append([]string{"__complete"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := lines[:len(lines)-1]
		if len(got) == 0 {
			got = nil
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("complete %q (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestSetInBatch: set lines in -batch reach the namespace's shared backend,
// and a refused one names its line.
func TestSetInBatch(t *testing.T) {
	t.Parallel()
	gw := newFake()
	gw.links = sampleLinks()
	code, out, errOut := runWith(t, multiFake{"gw": gw}.open, "set amtg up mtu 1400\nset amtg2 nomaster\n", "-n", "gw", "-batch", "-")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	want := []setCall{
		{Name: "amtg", Ch: amtlink.Change{Up: ifla.Ptr(true), MTU: ifla.Ptr[uint32](1400)}},
		{Name: "amtg2", Ch: amtlink.Change{Master: ifla.Ptr("")}},
	}
	if diff := cmp.Diff(want, gw.sets); diff != "" {
		t.Errorf("Set calls (-want +got):\n%s", diff)
	}
	code, _, errOut = runWith(t, multiFake{"gw": gw}.open, "set amtg up\nset amtg local 10.0.0.3\n", "-n", "gw", "-batch", "-")
	if code == 0 || !strings.HasPrefix(errOut, "amtctl: line 2: ") || !strings.Contains(errOut, "no changelink") {
		t.Errorf("batch with a bad set line: code %d stderr %q", code, errOut)
	}
}
