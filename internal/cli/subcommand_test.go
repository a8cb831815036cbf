package cli

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// TestSubcommandWords: each row of subcommands names the command it builds
// by its name and aliases, and the whole tree holds exactly those
// commands, so onlyCommand knows every word the tree does.
func TestSubcommandWords(t *testing.T) {
	t.Parallel()
	o := &options{open: newFake().open}
	for _, sc := range subcommands {
		c := sc.build(o)
		if want := append([]string{c.Name()}, c.Aliases...); !slices.Equal(sc.words, want) {
			t.Errorf("subcommands row %q builds %q, which answers to %q", sc.words, c.Name(), want)
		}
	}
	root := newRootCommand(newFake().open, hooks{})
	var names []string
	for _, c := range root.Commands() {
		names = append(names, c.Name())
	}
	var want []string
	for _, sc := range subcommands {
		want = append(want, sc.words[0])
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the tree's commands are %q, subcommands names %q", names, want)
	}
}

func TestOnlyCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // "" for the whole tree
	}{
		{[]string{"show"}, "show"},
		{[]string{"ls", "amt0"}, "show"},
		{[]string{"-n", "gw", "add", "amt0", "mode", "relay"}, "add"},
		{[]string{"--netns", "gw", "-j", "-p", "show"}, "show"},
		{[]string{"--netns=gw", "-jp", "delete", "x"}, "del"},
		{[]string{"-ngw", "--json", "--pretty", "monitor"}, "monitor"},
		{[]string{"relay", "lookup", "s.example"}, "relay"},
		{[]string{"show", "--help"}, ""},
		{[]string{"add", "amt0", "-h"}, ""},
		{[]string{"help", "add"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "add", ""}, ""},
		{[]string{"-batch", "file"}, ""},
		{[]string{"--batch", "file", "show"}, ""},
		{[]string{"-force", "-batch", "-"}, ""},
		{[]string{"--", "show"}, ""},
		{[]string{"-x", "show"}, ""},
		{[]string{"-n"}, ""},
		{[]string{"sho"}, ""},
		{nil, ""},
	} {
		got := ""
		if sc := onlyCommand(tc.args); sc != nil {
			got = sc.words[0]
		}
		if got != tc.want {
			t.Errorf("onlyCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestOnlyCommandSameAsTree runs command lines on the tree Main builds
// (only the named command, where onlyCommand can tell it) and on the whole
// tree, each on its own fake: the output, the exit status and what the
// backend was asked must be the same.
func TestOnlyCommandSameAsTree(t *testing.T) {
	t.Parallel()
	lines := [][]string{
		{"show"}, {"show", "amt0"}, {"show", "nosuch"}, {"ls"}, {"list", "-x"}, {"show", "a", "b"},
		{"add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"},
		{"add", "amtr", "mode", "relay", "local", "10.0.0.300", "dev", "eth0"},
		{"add", "amtg", "mode", "gateway", "local", "10.0.0.2", "discovery", "10.0.0.1", "dev", "eth0", "up"},
		{"add", "amtx", "mode", "relay", "local", "10.0.0.1"},
		{"add", "amtx", "bogus"}, {"add"}, {"add", "--bogus"},
		{"del", "amt0"}, {"delete", "nosuch"}, {"del"}, {"del", "a/b"},
		{"set", "amt0", "down"}, {"set", "amt0", "mtu", "10"}, {"set", "amt0", "mode", "relay"}, {"set"},
		{"apply"}, {"apply", "-f", "/nonexistent/links.yaml"}, {"apply", "--watch", "--dry-run", "-f", "x"},
		{"monitor", "extra"},
		{"metrics"}, {"metrics", "--listen", "bogus"},
		{"relay"}, {"relay", "lookup"}, {"relay", "lookup", "a..b"}, {"relay", "nosuch"},
		// probe and send only with bad input: a good line would join or
		// send on the host.
		{"probe"}, {"probe", "not-a-group"}, {"probe", "232.1.1.1", "port", "x"}, {"probe", "--timeout", "x", "232.1.1.1"},
		{"send"}, {"send", "10.0.0.1"}, {"send", "232.1.1.1", "--rate", "-1"}, {"send", "232.1.1.1", "--size", "1"},
		{"version", "extra"},
	}
	globals := [][]string{nil, {"-j"}, {"-n", "gw"}, {"--netns=gw", "-jp"}}
	for _, global := range globals {
		for _, line := range lines {
			args := append(append([]string(nil), global...), line...)
			runOnce := func(whole bool) string {
				m := multiFake{"": newFake(), "gw": newFake()}
				for _, f := range m {
					f.links = sampleLinks()
				}
				only := onlyCommand(args)
				if whole {
					only = nil
				}
				root, _ := newRoot(m.open, hooks{}, only)
				var out, errb bytes.Buffer
				code := Execute(root, args, &out, &errb)
				var calls string
				for _, ns := range []string{"", "gw"} {
					f := m[ns]
					calls += fmt.Sprintf("[%s] opened %q creates %d deletes %q sets %d lists %d lookups %q links %d; ",
						ns, f.opened, len(f.creates), f.deletes, len(f.sets), f.lists, f.lookups, len(f.links))
				}
				return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s\nbackend: %s", code, out.String(), errb.String(), calls)
			}
			if only, whole := runOnce(false), runOnce(true); only != whole {
				t.Errorf("amtctl %q\nwith one command's tree:\n%s\nwith the whole tree:\n%s", args, only, whole)
			}
		}
	}
}
