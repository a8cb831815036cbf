package cli

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
)

// multiFake is a set of fake namespaces by name ("" is the current one);
// opening any other name fails as OpenNetNS does.
type multiFake map[string]*fake

func (m multiFake) open(netns string) (Backend, error) {
	f, ok := m[netns]
	if !ok {
		return nil, fmt.Errorf("network namespace %q not found (ip netns add %s?): %w", netns, netns, os.ErrNotExist)
	}
	return f.open(netns)
}

// runWith drives the command tree against open with stdin.
func runWith(t *testing.T, open Opener, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWithHooks(t, open, hooks{}, stdin, args...)
}

// runWithHooks is runWith with test hooks.
func runWithHooks(t *testing.T, open Opener, h hooks, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand(open, h)
	root.SetIn(strings.NewReader(stdin))
	code = Execute(root, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustCreate adds a link to f as "amtctl add" would.
func mustCreate(t *testing.T, f *fake, args ...string) {
	t.Helper()
	s, err := parseAdd(args)
	if err != nil {
		t.Fatalf("parseAdd %q: %v", args, err)
	}
	if _, err := f.Create(s); err != nil {
		t.Fatalf("create %q: %v", args, err)
	}
}

// driftFake is a namespace that has drifted from applyFile: amtr matches,
// amtg has another discovery address, amts is down with the default mtu,
// amtx is not in the file, amtn is missing.
func driftFake(t *testing.T) *fake {
	f := newFake()
	mustCreate(t, f, "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0", "up")
	mustCreate(t, f, "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0", "up")
	mustCreate(t, f, "amts", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0",
		"relay_port", "3000", "gateway_port", "3000")
	mustCreate(t, f, "amtx", "mode", "relay", "local", "10.0.0.2", "dev", "eth0", "relay_port", "2999")
	f.creates = nil
	return f
}

const applyFile = `# the desired state
links:
  - name: amtr
    mode: relay
    local: 10.0.0.1
    dev: eth0
    relay_port: 2268     # the kernel's default: equal
    up: true
  - name: amtg
    mode: gateway
    local: 10.0.0.2
    discovery: 10.0.0.9
    dev: eth0
  - name: amts
    mode: gateway
    local: 10.0.0.2
    discovery: 10.0.0.1
    dev: eth0
    gateway_port: 3000
    relay_port: 3000
    mtu: 1400
    master: br0
    up: true
  - name: amtn
    mode: relay
    local: 10.0.0.1
    dev: eth0
    relay_port: 2270
    max_tunnels: 64
`

func TestApplyDryRunPlanSendsNothing(t *testing.T) {
	t.Parallel()
	f := driftFake(t)
	file := writeFile(t, "links.yaml", applyFile)
	before := append([]amtlink.Link(nil), f.links...)
	code, out, errOut := run(t, f, "apply", "-f", file, "--prune", "--dry-run")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	golden(t, "apply-plan.golden", out)
	if len(f.creates)+len(f.deletes)+len(f.sets) != 0 {
		t.Errorf("dry run changed the fake: creates %d deletes %q sets %+v", len(f.creates), f.deletes, f.sets)
	}
	if diff := cmp.Diff(before, f.links, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("links changed (-before +after):\n%s", diff)
	}
}

func TestApplyConvergesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	f := driftFake(t)
	file := writeFile(t, "links.yaml", applyFile)
	code, out, errOut := run(t, f, "apply", "-f", file, "--prune")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	golden(t, "apply-run.golden", out)

	if diff := cmp.Diff([]string{"amtx", "amtg"}, f.deletes); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
	var created []string
	for _, s := range f.creates {
		created = append(created, s.Name)
	}
	if diff := cmp.Diff([]string{"amtg", "amtn"}, created); diff != "" {
		t.Errorf("creates (-want +got):\n%s", diff)
	}
	// amtg was up and the file does not say: the new one is up too.
	if !f.creates[0].Up || f.creates[0].AMT.Discovery != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("re-created amtg: %+v", f.creates[0])
	}
	wantSet := []setCall{{Name: "amts", Ch: amtlink.Change{Up: ifla.Ptr(true), MTU: ifla.Ptr[uint32](1400), Master: ifla.Ptr("br0")}}}
	if diff := cmp.Diff(wantSet, f.sets); diff != "" {
		t.Errorf("sets (-want +got):\n%s", diff)
	}
	var names []string
	for _, l := range f.links {
		names = append(names, l.Name)
	}
	if diff := cmp.Diff([]string{"amtr", "amts", "amtg", "amtn"}, names); diff != "" {
		t.Errorf("links after apply (-want +got):\n%s", diff)
	}

	// The second time there is nothing to do.
	f.creates, f.deletes, f.sets = nil, nil, nil
	code, out, errOut = run(t, f, "apply", "-f", file, "--prune")
	if code != 0 || out != "no changes\n" || errOut != "" {
		t.Errorf("second apply: code %d stdout %q stderr %q; want 0 and \"no changes\"", code, out, errOut)
	}
	if len(f.creates)+len(f.deletes)+len(f.sets) != 0 {
		t.Errorf("second apply changed something: creates %+v deletes %q sets %+v", f.creates, f.deletes, f.sets)
	}
}

func TestApplyWithoutPruneKeepsOthers(t *testing.T) {
	t.Parallel()
	f := driftFake(t)
	code, _, errOut := run(t, f, "apply", "-f", writeFile(t, "l.yaml", applyFile))
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	if f.find("amtx") < 0 {
		t.Errorf("amtx was deleted without --prune (deletes %q)", f.deletes)
	}
}

func TestApplyJSONFromStdin(t *testing.T) {
	t.Parallel()
	f := newFake()
	in := `{"links": [{"name": "amtr", "mode": "relay", "local": "10.0.0.1", "dev": "eth0", "max_tunnels": 16, "up": "true"}]}`
	code, out, errOut := runWith(t, f.open, in, "apply", "-f", "-")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	if want := "create amtr: mode relay local 10.0.0.1 dev eth0 max_tunnels 16 up\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if len(f.links) != 1 || *f.links[0].AMT.MaxTunnels != 16 || !f.links[0].Up() {
		t.Errorf("links %+v", f.links)
	}
}

func TestApplyInvalidFileChangesNothing(t *testing.T) {
	t.Parallel()
	m := multiFake{"": driftFake(t)}
	in := `links:
  - name: amta
    mode: gateway
    local: 10.0.0.2
    dicovery: 10.0.0.1
    dev: eth0
  - name: amtb
    mode: relay
    local: 10.0.0.300
    dev: eth0
  - name: amtb
    mode: relay
    local: 10.0.0.1
    dev: eth0
    netns: nosuch
  - name: amtc
    mode: relay
    local: 10.0.0.1
    dev: eth0
    max_tunnels: 64
    up: yes
  - name: amtc
    mode: relay
    local: 10.0.0.1
    dev: eth0
`
	code, out, errOut := runWith(t, m.open, in, "apply", "-f", "-", "--prune")
	if code != ExitUsage || out != "" {
		t.Fatalf("code %d stdout %q, want %d and nothing", code, out, ExitUsage)
	}
	golden(t, "apply-invalid.golden", errOut)
	f := m[""]
	if len(f.creates)+len(f.deletes)+len(f.sets) != 0 {
		t.Errorf("an invalid file changed something: creates %+v deletes %q sets %+v", f.creates, f.deletes, f.sets)
	}
}

func TestApplyFileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "amtctl: stdin: empty file; expected \"links:\" and a list of links\n"},
		{"links: [\n", "amtctl: stdin:1: not valid YAML or JSON: did not find expected node content\n"},
		{"link:\n  - name: x\n", "amtctl: stdin:1: unknown key \"link\"; the file has one key, \"links\"\n"},
		{"links:\n  name: x\n", "amtctl: stdin:2: \"links\" must be a list"},
		{"links:\n  - name: amtg\n    mode: gateway\n    local: 10.0.0.2\n    dev: eth0\n",
			"amtctl: stdin:2: amtg: \"discovery\" is required: a gateway needs the relay's IPv4 address"},
		{"links:\n  - name: amtg\n    mode: relay\n    local: 10.0.0.2\n    dev: eth0\n    mode: gateway\n",
			"amtctl: stdin:6: amtg: \"mode\" given twice (first at line 3); give it once\n"},
		{"links:\n  - name: amtg\n    mode: gateway\n    local: 10.0.0.2\n    discovery: 10.0.0.1\n    dev: eth0\n    gateway_port: 2269\n",
			"amtctl: stdin:7: amtg: gateway_port \"2269\": differs from relay_port 2268"},
		{"links:\n  - name: amtg\n    mode: relay\n    local: 10.0.0.2\n    dev:\n",
			"amtctl: stdin:5: amtg: \"dev\" needs a value: the device the tunnel runs over, such as eth0\n"},
	} {
		f := newFake()
		code, out, errOut := runWith(t, f.open, tc.in, "apply", "-f", "-")
		if code != ExitUsage || out != "" || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("file %q: code %d stdout %q stderr:\n%s\nwant exit 2 and stderr starting %q", tc.in, code, out, errOut, tc.want)
		}
		if len(f.creates) != 0 {
			t.Errorf("file %q: created %+v", tc.in, f.creates)
		}
	}
	code, _, errOut := run(t, newFake(), "apply")
	if code != ExitUsage || !strings.Contains(errOut, "apply needs -f FILE") {
		t.Errorf("apply without -f: code %d stderr %q", code, errOut)
	}
	code, _, errOut = run(t, newFake(), "apply", "-f", filepath.Join(t.TempDir(), "none.yaml"))
	if code != ExitUsage || !strings.Contains(errOut, "not found") {
		t.Errorf("apply -f missing: code %d stderr %q", code, errOut)
	}
}

func TestApplyOneFailsOthersConverge(t *testing.T) {
	t.Parallel()
	f := newFake()
	file := writeFile(t, "l.yaml", `links:
  - {name: amta, mode: relay, local: 10.0.0.1, dev: eth0}
  - {name: amtb, mode: relay, local: 10.0.0.1, dev: eth9, relay_port: 2300}
  - {name: amtc, mode: relay, local: 10.0.0.1, dev: eth0, relay_port: 2301}
`)
	code, out, errOut := run(t, f, "apply", "-f", file)
	if code != ExitError {
		t.Fatalf("code %d, want %d", code, ExitError)
	}
	wantErr := "amtctl: create amtb: dev \"eth9\" not found in this network namespace; check the device names (ip link show)\n" +
		"amtctl: apply: 1 of 3 change(s) failed (see above); the others were made\n"
	if errOut != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, wantErr)
	}
	if strings.Count(out, "create ") != 3 {
		t.Errorf("stdout %q: want the three creates", out)
	}
	if f.find("amta") < 0 || f.find("amtc") < 0 || f.find("amtb") >= 0 {
		t.Errorf("links %+v: want amta and amtc only", f.links)
	}
}

func TestApplyFailedReplaceRestoresOldLink(t *testing.T) {
	t.Parallel()
	f := newFake()
	mustCreate(t, f, "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0", "up")
	file := writeFile(t, "l.yaml", "links:\n  - {name: amtg, mode: gateway, local: 10.0.0.2, discovery: 10.0.0.1, dev: eth9}\n")
	code, out, errOut := run(t, f, "apply", "-f", file)
	if code != ExitError {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, `replace (re-create) amtg: dev "eth9" not found`) || !strings.Contains(errOut, "the old link was restored") {
		t.Errorf("stderr %q", errOut)
	}
	i := f.find("amtg")
	if i < 0 || f.links[i].LowerName != "eth0" || !f.links[i].Up() {
		t.Errorf("amtg after a failed replace: %+v, want it back on eth0 and up", f.links)
	}
}

func TestApplyNamespacesAndPruneScope(t *testing.T) {
	t.Parallel()
	gw, cur, other := newFake(), newFake(), newFake()
	mustCreate(t, gw, "amtold", "mode", "relay", "local", "10.0.0.1", "dev", "eth0")
	mustCreate(t, cur, "amtkeep", "mode", "relay", "local", "10.0.0.1", "dev", "eth0")
	mustCreate(t, other, "amtkeep2", "mode", "relay", "local", "10.0.0.1", "dev", "eth0")
	m := multiFake{"gw": gw, "": cur, "other": other}
	file := writeFile(t, "l.yaml", "links:\n  - {name: amtg, netns: gw, mode: gateway, local: 10.0.0.2, discovery: 10.0.0.1, dev: eth0}\n")
	code, out, errOut := runWith(t, m.open, "", "apply", "-f", file, "--prune")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	want := "delete amtold (netns gw): not in the file (--prune)\ncreate amtg (netns gw): mode gateway local 10.0.0.2 discovery 10.0.0.1 dev eth0\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if cur.find("amtkeep") < 0 || other.find("amtkeep2") < 0 || len(cur.opened) != 0 || len(other.opened) != 0 {
		t.Errorf("prune reached a namespace the file does not mention (opened %q, %q)", cur.opened, other.opened)
	}
	if gw.closed != len(gw.opened) {
		t.Errorf("gw opened %d closed %d", len(gw.opened), gw.closed)
	}
	// -n sets the namespace of links without netns.
	code, out, _ = runWith(t, m.open, "", "-n", "other", "apply", "-f", writeFile(t, "k.yaml",
		"links:\n  - {name: amtkeep2, mode: relay, local: 10.0.0.1, dev: eth0}\n"), "--prune")
	if code != 0 || out != "no changes\n" {
		t.Errorf("-n other: code %d stdout %q", code, out)
	}
}

func TestApplyKernelErrorsNameTheLink(t *testing.T) {
	t.Parallel()
	f := newFake()
	mustCreate(t, f, "amts", "mode", "relay", "local", "10.0.0.1", "dev", "eth0")
	f.setErr = &amtlink.Error{Op: "set", Name: "amts", Message: "Invalid MTU", Err: errors.New("invalid argument")}
	file := writeFile(t, "l.yaml", "links:\n  - {name: amts, mode: relay, local: 10.0.0.1, dev: eth0, mtu: 9000}\n")
	code, _, errOut := run(t, f, "apply", "-f", file)
	if code != ExitError || !strings.Contains(errOut, "amts") || !strings.Contains(errOut, "Invalid MTU") {
		t.Errorf("code %d stderr %q: want exit 1 naming amts and the kernel's reason", code, errOut)
	}
}
