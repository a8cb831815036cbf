//go:build linux

package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// vethPair joins namespaces a and b with a veth pair, nameA in a holding
// addrA/24 and nameB in b holding addrB/24, both up.
func vethPair(t *testing.T, a *os.File, nameA, addrA string, b *os.File, nameB, addrB string) {
	t.Helper()
	ca := dialNS(t, a)
	if err := ca.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: nameA, Info: &rtnetlink.LinkInfo{Kind: "veth", Data: &driver.Veth{
			PeerInfo: &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
				Name: nameB, NetNS: rtnetlink.NetNSForFD(uint32(b.Fd())),
			}},
		}}},
	}); err != nil {
		t.Fatalf("create veth %s/%s: %v", nameA, nameB, err)
	}
	upWithAddr(t, ca, nameA, addrA)
	upWithAddr(t, dialNS(t, b), nameB, addrB)
}

// addBridge creates an up bridge called name in ns.
func addBridge(t *testing.T, ns *os.File, name string) {
	t.Helper()
	c := dialNS(t, ns)
	if err := c.Link.New(&rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC, Flags: unix.IFF_UP, Change: unix.IFF_UP,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: &rtnetlink.LinkInfo{Kind: "bridge"}},
	}); err != nil {
		t.Fatalf("create bridge %s: %v", name, err)
	}
}

func dialNS(t testing.TB, ns *os.File) *rtnetlink.Conn {
	t.Helper()
	c, err := rtnetlink.Dial(&netlink.Config{NetNS: int(ns.Fd())})
	if err != nil {
		t.Fatalf("dial rtnetlink: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func upWithAddr(t testing.TB, c *rtnetlink.Conn, name, addr string) {
	t.Helper()
	idx := testenv.LinkIndex(t, c, name)
	ip := net.ParseIP(addr).To4()
	if err := c.Address.New(&rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: 24, Index: idx,
		Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	}); err != nil {
		t.Fatalf("add %s to %s: %v", addr, name, err)
	}
	if err := c.Link.Set(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: idx, Flags: unix.IFF_UP, Change: unix.IFF_UP}); err != nil {
		t.Fatalf("set %s up: %v", name, err)
	}
}

// amtLinks lists the amt links of ns by name, straight from amtlink.
func amtLinks(t *testing.T, ns *os.File) []string {
	t.Helper()
	c, err := amtlink.Dial(amtlink.NetNSFromFD(int(ns.Fd())))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	links, err := c.List()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	return names
}

// TestIntegrationCLI runs the real command tree, in-process, against the
// kernel in a fresh network namespace named by path (-n /proc/PID/fd/N).
func TestIntegrationCLI(t *testing.T) {
	testenv.RequireAMT(t)
	t.Logf("kernel %s", testenv.KernelRelease())
	nsR, nsG := testenv.NewNetNS(t), testenv.NewNetNS(t)
	vethPair(t, nsR, "eth0", "10.0.0.1", nsG, "eth1", "10.0.0.2")
	pathR, pathG := testenv.NetNSPath(nsR), testenv.NetNSPath(nsG)

	amtctl := func(path string, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := Execute(NewRootCommand(OpenAMTLink), append([]string{"-n", path}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	mustRun := func(path string, args ...string) string {
		t.Helper()
		code, out, errOut := amtctl(path, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("amtctl -n %s %q: exit %d, stderr %q", path, args, code, errOut)
		}
		return out
	}
	showJSON := func(path string) []map[string]any {
		t.Helper()
		var got []map[string]any
		if err := json.Unmarshal([]byte(mustRun(path, "show", "-j")), &got); err != nil {
			t.Fatalf("show -j: %v", err)
		}
		return got
	}
	infoData := func(obj map[string]any) map[string]any {
		return obj["linkinfo"].(map[string]any)["info_data"].(map[string]any)
	}

	mustRun(pathR, "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "max_tunnels", "16", "up")
	mustRun(pathG, "add", "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth1", "up")

	got := showJSON(pathR)
	if len(got) != 1 {
		t.Fatalf("relay namespace: %d links, want 1", len(got))
	}
	r := infoData(got[0])
	if got[0]["ifname"] != "amtr" || r["mode"] != "relay" || r["local"] != "10.0.0.1" || r["link"] != "eth0" ||
		r["relay_port"] != 2268.0 || r["gateway_port"] != 2268.0 || r["max_tunnels"] != 16.0 || r["discovery"] != "0.0.0.0" {
		t.Errorf("relay as the kernel reports it: %v", got[0])
	}
	if _, ok := r["remote"]; ok {
		t.Errorf("relay reports remote %v; the kernel omits a zero remote", r["remote"])
	}
	checkUp := func(obj map[string]any) {
		t.Helper()
		up := false
		fl, _ := obj["flags"].([]any)
		for _, f := range fl {
			up = up || f == "UP"
		}
		if !up {
			t.Errorf("%v: flags = %v, want UP among them", obj["ifname"], obj["flags"])
		}
		if _, ok := obj["stats64"].(map[string]any); !ok {
			t.Errorf("%v: stats64 missing", obj["ifname"])
		}
	}
	checkUp(got[0])

	// The gateway discovers the relay over the veth: remote appears.
	deadline := time.Now().Add(20 * time.Second)
	var g map[string]any
	for {
		got = showJSON(pathG)
		if len(got) != 1 {
			t.Fatalf("gateway namespace: %d links, want 1", len(got))
		}
		g = infoData(got[0])
		if g["remote"] != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got[0]["ifname"] != "amtg" || g["mode"] != "gateway" || g["local"] != "10.0.0.2" || g["discovery"] != "10.0.0.1" ||
		g["link"] != "eth1" || g["remote"] != "10.0.0.1" {
		t.Errorf("gateway as the kernel reports it (want remote 10.0.0.1 within 20s): %v", got[0])
	}
	checkUp(got[0])
	table := mustRun(pathG, "show")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "amtg ") || !strings.Contains(lines[1], " 10.0.0.1 ") {
		t.Errorf("show table:\n%s", table)
	}
	t.Logf("amtctl show (gateway):\n%s", table)

	// Every usage error against the real kernel: one line, exit 2, and
	// nothing new in the namespace.
	want := []string{"amtr"}
	for _, tc := range badInputs {
		if tc.setup != nil || tc.code != ExitUsage {
			continue
		}
		code, out, errOut := amtctl(pathR, tc.args...)
		if code != ExitUsage || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "amtctl: ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.name, code, out, errOut)
		}
		if names := amtLinks(t, nsR); strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: links now %q, want %q", tc.name, names, want)
		}
	}
	// And the ones only the kernel can refuse.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"}, `a link named "amtr" already exists`},
		{[]string{"add", "amtx", "mode", "relay", "local", "10.0.0.1", "dev", "eth9"}, `dev "eth9" not found`},
		{[]string{"add", "amtx", "mode", "relay", "local", "10.0.0.1", "dev", "lo"}, "amtx"},
		{[]string{"add", "amtx", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "master", "br9"}, `master "br9"`},
		{[]string{"add", "amtx", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "up"}, "UDP port 2268 is already in use"},
		{[]string{"show", "nope"}, `amt link "nope" not found`},
		{[]string{"del", "nope"}, `amt link "nope" not found`},
		{[]string{"del", "eth0"}, "eth0 is not an amt link"},
	} {
		code, out, errOut := amtctl(pathR, tc.args...)
		if code != ExitError || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("amtctl %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, out, errOut, tc.want)
		}
		if names := amtLinks(t, nsR); strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("amtctl %q: links now %q, want %q", tc.args, names, want)
		}
	}

	// mtu, and no "up": the kernel reports both back.
	mustRun(pathR, "add", "amtm", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "mtu", "1400")
	if out := mustRun(pathR, "show", "-j", "amtm"); !strings.Contains(out, `"mtu":1400,`) || !strings.Contains(out, `"operstate":"DOWN"`) || strings.Contains(out, `"UP"`) {
		t.Errorf("amtm with mtu 1400, not up: %s", out)
	}
	mustRun(pathR, "del", "amtm")

	// add -j prints the link as the kernel reported it on creation (its
	// echo, Linux 6.1+, or a read-back): the same bytes show -j prints.
	for _, extra := range [][]string{nil, {"mtu", "1400"}, {"max_tunnels", "16", "gateway_port", "3000"}} {
		args := append([]string{"-j", "add", "amte", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"}, extra...)
		added := mustRun(pathR, args...)
		if shown := mustRun(pathR, "-j", "show", "amte"); added != shown {
			t.Errorf("amtctl %q printed\n%s\nbut show -j amte prints\n%s", args, added, shown)
		}
		mustRun(pathR, "del", "amte")
	}

	// master: whether the kernel accepts an amt port in a bridge or not, the
	// outcome must be whole: enslaved, or one line and nothing left.
	addBridge(t, nsR, "br0")
	code, out, errOut := amtctl(pathR, "add", "amtb", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "master", "br0")
	switch {
	case code == 0:
		if out := mustRun(pathR, "show", "-j", "amtb"); !strings.Contains(out, `"master":"br0"`) {
			t.Errorf("amtb created with master br0, but shows %s", out)
		}
		mustRun(pathR, "del", "amtb")
	case code == ExitError && out == "" && strings.Count(errOut, "\n") == 1:
		t.Logf("kernel refused an amt bridge port: %s", errOut)
		if names := amtLinks(t, nsR); strings.Join(names, " ") != "amtr" {
			t.Errorf("after the refused master, links are %q", names)
		}
	default:
		t.Errorf("add with master br0: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	mustRun(pathG, "del", "amtg")
	mustRun(pathR, "delete", "amtr")
	if names := append(amtLinks(t, nsR), amtLinks(t, nsG)...); len(names) != 0 {
		t.Errorf("links left after del: %q", names)
	}
	if out := mustRun(pathR, "show"); out != strings.Join(tableHeader, "  ")+"\n" {
		t.Errorf("show after del: %q", out)
	}
}
