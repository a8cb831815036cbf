package cli

import (
	"strings"
	"testing"
)

// TestCompletionScripts checks cobra's generator is reachable for each shell
// and that apply -f completes YAML and JSON files.
func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "# bash completion V2 for amtctl",
		"zsh":  "#compdef amtctl",
		"fish": "# fish completion for amtctl",
	} {
		f := newFake()
		code, out, errOut := run(t, f, "completion", shell)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, want) {
			t.Errorf("completion %s: code %d stderr %q, stdout starts %.40q; want %q", shell, code, errOut, out, want)
		}
		if len(f.opened) != 0 {
			t.Errorf("completion %s opened a backend", shell)
		}
	}
	_, out, _ := run(t, newFake(), "__complete", "apply", "-f", "")
	if !strings.HasPrefix(out, "yaml\nyml\njson\n:8\n") { // 8: ShellCompDirectiveFilterFileExt
		t.Errorf("apply -f completion: %q, want the yaml, yml and json extensions", out)
	}
	_, out, _ = run(t, newFake(), "__complete", "--batch", "")
	if out != ":0\n" { // ShellCompDirectiveDefault: the shell completes file names
		t.Errorf("--batch completion: %q, want the shell's file completion", out)
	}
}
