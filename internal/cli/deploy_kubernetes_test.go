package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"go.yaml.in/yaml/v3"
)

// kubeManifest is deploy/kubernetes/amtctl.yaml, from this package's
// directory (where go test and scripts/kernel-tests run).
const kubeManifest = "../../deploy/kubernetes/amtctl.yaml"

// The parts of the Kubernetes objects the manifest may use: it is decoded
// with KnownFields, so a misspelt key (hostnetwork, readOnlyRootFS) fails
// the test instead of being ignored, as the API server would ignore it.
type (
	kubeMeta struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	}
	kubeObject struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   kubeMeta          `yaml:"metadata"`
		Data       map[string]string `yaml:"data"` // ConfigMap
		Spec       *kubeDaemonSet    `yaml:"spec"` // DaemonSet
	}
	kubeDaemonSet struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		UpdateStrategy struct {
			Type string `yaml:"type"`
		} `yaml:"updateStrategy"`
		Template struct {
			Metadata kubeMeta `yaml:"metadata"`
			Spec     kubePod  `yaml:"spec"`
		} `yaml:"template"`
	}
	kubePod struct {
		HostNetwork                   bool              `yaml:"hostNetwork"`
		ShareProcessNamespace         bool              `yaml:"shareProcessNamespace"`
		PriorityClassName             string            `yaml:"priorityClassName"`
		TerminationGracePeriodSeconds int               `yaml:"terminationGracePeriodSeconds"`
		NodeSelector                  map[string]string `yaml:"nodeSelector"`
		Containers                    []kubeContainer   `yaml:"containers"`
		Volumes                       []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	}
	kubeContainer struct {
		Name            string   `yaml:"name"`
		Image           string   `yaml:"image"`
		ImagePullPolicy string   `yaml:"imagePullPolicy"`
		Command         []string `yaml:"command"`
		Env             []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		SecurityContext struct {
			RunAsUser                *int64 `yaml:"runAsUser"`
			RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
			Privileged               *bool  `yaml:"privileged"`
			AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
				Add  []string `yaml:"add"`
			} `yaml:"capabilities"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
)

func (c *kubeContainer) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// kubeObjects reads every document of the manifest, strictly.
func kubeObjects(t *testing.T) []kubeObject {
	t.Helper()
	f, err := os.Open(kubeManifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var objs []kubeObject
	for {
		var o kubeObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("%s, document %d: %v", kubeManifest, len(objs)+1, err)
		}
		objs = append(objs, o)
	}
}

// kubeParts is the manifest's ConfigMap and DaemonSet, with the DaemonSet's
// two containers.
type kubeParts struct {
	cm, ds         *kubeObject
	amtctl, reload *kubeContainer
}

func kubeManifestParts(t *testing.T) kubeParts {
	t.Helper()
	objs := kubeObjects(t)
	var kinds []string
	var p kubeParts
	for i := range objs {
		o := &objs[i]
		kinds = append(kinds, o.APIVersion+" "+o.Kind)
		switch o.Kind {
		case "ConfigMap":
			p.cm = o
		case "DaemonSet":
			p.ds = o
		}
	}
	if want := []string{"v1 ConfigMap", "apps/v1 DaemonSet"}; !slices.Equal(kinds, want) {
		t.Fatalf("%s: documents %q, want %q", kubeManifest, kinds, want)
	}
	if p.ds.Spec == nil {
		t.Fatal("the DaemonSet has no spec")
	}
	for i := range p.ds.Spec.Template.Spec.Containers {
		c := &p.ds.Spec.Template.Spec.Containers[i]
		switch c.Name {
		case "amtctl":
			p.amtctl = c
		case "reload":
			p.reload = c
		}
	}
	if p.amtctl == nil || p.reload == nil || len(p.ds.Spec.Template.Spec.Containers) != 2 {
		t.Fatalf("the DaemonSet's containers: %d, want exactly amtctl and reload", len(p.ds.Spec.Template.Spec.Containers))
	}
	return p
}

// TestKubernetesManifest checks deploy/kubernetes/amtctl.yaml as the issue
// asks and as far as a YAML parser can: host network, NET_ADMIN and no
// other capability, apply --watch on the ConfigMap's file where the
// ConfigMap is mounted, and that file a valid apply file (the parser and
// checks apply itself uses).
func TestKubernetesManifest(t *testing.T) {
	t.Parallel()
	p := kubeManifestParts(t)
	pod := &p.ds.Spec.Template.Spec
	if !pod.HostNetwork {
		t.Error("hostNetwork is not true: the links would live in the pod's own namespace, gone with it")
	}
	if !pod.ShareProcessNamespace {
		t.Error("shareProcessNamespace is not true: the reload sidecar cannot signal amtctl")
	}
	sel, labels := p.ds.Spec.Selector.MatchLabels, p.ds.Spec.Template.Metadata.Labels
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, labels)
		}
	}
	if len(sel) == 0 {
		t.Error("the DaemonSet has no selector")
	}

	for _, c := range []*kubeContainer{p.amtctl, p.reload} {
		sc := c.SecurityContext
		if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: privileged %v, allowPrivilegeEscalation %v, readOnlyRootFilesystem %v; want false, false, true",
				c.Name, ptrString(sc.Privileged), ptrString(sc.AllowPrivilegeEscalation), ptrString(sc.ReadOnlyRootFilesystem))
		}
		if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("container %s drops capabilities %q, want exactly [ALL]", c.Name, sc.Capabilities.Drop)
		}
		if c.Image != p.amtctl.Image {
			t.Errorf("container %s: image %q, want amtctl's %q (one image, deploy/kubernetes/Containerfile)", c.Name, c.Image, p.amtctl.Image)
		}
	}
	if add := p.amtctl.SecurityContext.Capabilities.Add; !slices.Equal(add, []string{"NET_ADMIN"}) {
		t.Errorf("amtctl adds capabilities %q, want exactly [NET_ADMIN]", add)
	}
	if add := p.reload.SecurityContext.Capabilities.Add; len(add) != 0 {
		t.Errorf("reload adds capabilities %q, want none (it signals a process of its own uid)", add)
	}
	if u, v := p.amtctl.SecurityContext.RunAsUser, p.reload.SecurityContext.RunAsUser; u == nil || v == nil || *u != *v {
		t.Errorf("runAsUser: amtctl %v, reload %v; want both given and equal (kill(2) without CAP_KILL)", ptrString(u), ptrString(v))
	}

	// The command, and the file it reads mounted from the ConfigMap.
	cmd := p.amtctl.Command
	if len(cmd) != 5 || path.Base(cmd[0]) != "amtctl" || !slices.Equal(cmd[1:4], []string{"apply", "--watch", "-f"}) {
		t.Fatalf("amtctl's command %q, want [/usr/bin/amtctl apply --watch -f FILE]", cmd)
	}
	file := cmd[4]
	key := mountedKey(t, p, p.amtctl, file)
	if got := p.reload.env("FILE"); got != file {
		t.Errorf("reload watches FILE=%q, want amtctl's %q", got, file)
	}
	mountedKey(t, p, p.reload, p.reload.env("FILE"))
	if got, want := p.reload.env("PROCESS"), path.Base(cmd[0]); got != want {
		t.Errorf("reload signals PROCESS=%q, want %q (the name of amtctl's command)", got, want)
	}

	links, probs := parseApplyFile(strings.NewReader(p.cm.Data[key]))
	probs = validateLinks(links, probs, "")
	for _, pr := range probs {
		t.Errorf("ConfigMap %s, key %s: %s", p.cm.Metadata.Name, key, pr.format(key))
	}
	if len(links) == 0 && len(probs) == 0 {
		t.Errorf("ConfigMap %s, key %s: no links; the example should show one", p.cm.Metadata.Name, key)
	}
	for i, l := range links {
		if l.netns != "" {
			t.Errorf("ConfigMap %s: %s names netns %q: with CAP_NET_ADMIN only the pod cannot enter it (setns needs CAP_SYS_ADMIN)", p.cm.Metadata.Name, l.label(i), l.netns)
		}
	}
}

// mountedKey checks that c mounts the manifest's ConfigMap read-only on
// file's directory, without subPath (a subPath mount is never updated), and
// that file is one of its keys, which it returns.
func mountedKey(t *testing.T, p kubeParts, c *kubeContainer, file string) string {
	t.Helper()
	dir, key := path.Split(file)
	dir = strings.TrimSuffix(dir, "/")
	if _, ok := p.cm.Data[key]; !ok {
		t.Errorf("container %s reads %s, but ConfigMap %s has no key %q", c.Name, file, p.cm.Metadata.Name, key)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range p.ds.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == p.cm.Metadata.Name {
				if m.SubPath != "" || !m.ReadOnly {
					t.Errorf("container %s mounts %s with subPath %q, readOnly %v; want no subPath (it would never be updated), read-only", c.Name, dir, m.SubPath, m.ReadOnly)
				}
				return key
			}
		}
	}
	t.Errorf("container %s reads %s, but mounts no volume of ConfigMap %s on %s", c.Name, file, p.cm.Metadata.Name, dir)
	return key
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "not given"
	}
	return fmt.Sprint(*p)
}

// TestKubernetesReloadSidecar runs the manifest's reload script, as
// written, with the machine's sh, cksum and pkill (busybox's in the image),
// against a real apply --watch (this test binary as amtctl, under a name of
// its own so that no other process is signalled): the file replaced the
// way the kubelet swaps a ConfigMap's, apply --watch says it reloaded it.
func TestKubernetesReloadSidecar(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "cksum", "pkill", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, "no %s on this machine (make procps installs pkill): %v", tool, err)
		}
	}
	p := kubeManifestParts(t)
	script := p.reload.Command
	if len(script) != 3 || script[0] != "/bin/sh" || script[1] != "-c" {
		t.Fatalf("reload's command %q, want [/bin/sh -c SCRIPT]", script)
	}

	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The name pkill looks for is the command's name: a link's, here.
	name := fmt.Sprintf("amtctl-%d", os.Getpid()%1000000)
	exe := filepath.Join(dir, name)
	if err := os.Symlink(self, exe); err != nil {
		t.Fatal(err)
	}
	// The volume as the kubelet writes a ConfigMap's (its AtomicWriter):
	// links.yaml -> ..data/links.yaml, ..data -> a directory of this
	// version, swapped by renaming a new ..data over the old one.
	vol := filepath.Join(dir, "vol")
	version := 0
	publish := func(text string) {
		t.Helper()
		version++
		v := fmt.Sprintf("..v%d", version)
		if err := os.MkdirAll(filepath.Join(vol, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vol, v, "links.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(v, filepath.Join(vol, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	publish("links: []\n")
	file := filepath.Join(vol, "links.yaml")
	if err := os.Symlink("..data/links.yaml", file); err != nil {
		t.Fatal(err)
	}

	watch := exec.Command(exe, "apply", "--watch", "-f", file)
	watch.Env = append(os.Environ(), beAmtctlEnv+"=1")
	out, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := watch.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		watch.Process.Kill()
		watch.Wait()
	}()
	lines, errLines := make(chan string, 16), make(chan string, 16)
	for r, ch := range map[io.Reader]chan string{out: lines, errOut: errLines} {
		go func() {
			defer close(ch)
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				ch <- sc.Text()
			}
		}()
	}
	select {
	case l, ok := <-errLines:
		if !ok || !strings.HasPrefix(l, "amtctl: watching ") {
			t.Fatalf("apply --watch's first line on stderr: %q (open %v), want amtctl: watching ...", l, ok)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("apply --watch not watching within 20s")
	}

	sidecar := exec.Command(script[0], script[1:]...)
	sidecar.Env = append(os.Environ(), "FILE="+file, "PROCESS="+name, "INTERVAL=0.1")
	sidecarR, sidecarW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sidecar.Stdout, sidecar.Stderr = sidecarW, sidecarW
	if err := sidecar.Start(); err != nil {
		t.Fatal(err)
	}
	sidecarW.Close()
	sidecarLines := make(chan string, 16)
	var sidecarOut strings.Builder // what it said, read once it ended
	go func() {
		defer close(sidecarLines)
		sc := bufio.NewScanner(sidecarR)
		for sc.Scan() {
			sidecarLines <- sc.Text()
		}
	}()
	said := sync.OnceValue(func() string {
		sidecar.Process.Kill()
		sidecar.Wait()
		for l := range sidecarLines {
			sidecarOut.WriteString(l + "\n")
		}
		return sidecarOut.String()
	})
	defer said()
	// Its first line comes once it read the file as it was.
	select {
	case l := <-sidecarLines:
		sidecarOut.WriteString(l + "\n")
	case <-time.After(20 * time.Second):
		t.Fatal("the sidecar said nothing within 20s")
	}

	// The ConfigMap changed: the kubelet's swap.
	publish("# edited\nlinks: []\n")
	want := "reloaded " + file + ": 0 link(s) in 0 namespace(s)"
	select {
	case l, ok := <-lines:
		if !ok || l != want {
			t.Errorf("apply --watch after the file changed: line %q (open %v), want %q; sidecar said %q", l, ok, want, said())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("apply --watch did not reload within 30s of the change; sidecar said %q", said())
	}
	// The sidecar says so after pkill returned: wait for its line. Once
	// per change: ten turns later it has not sent another.
	select {
	case l := <-sidecarLines:
		sidecarOut.WriteString(l + "\n")
	case <-time.After(30 * time.Second):
		t.Fatalf("the sidecar said nothing of the change within 30s; it said %q", said())
	}
	time.Sleep(time.Second)
	if got := strings.Count(said(), "sent SIGHUP"); got != 1 {
		t.Errorf("the sidecar signalled %d time(s) for one change, want 1; it said %q", got, said())
	}
}
