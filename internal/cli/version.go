package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version describes the running binary from its build information: module
// version, VCS revision (with "-dirty" for a modified tree) and commit time.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "amtctl (no build information)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	out := "amtctl " + v
	if rev != "" {
		out += fmt.Sprintf(" revision %s%s", rev, dirty)
		if when != "" {
			out += " " + when
		}
	} else {
		out += " (no VCS revision: built outside git or with -buildvcs=false)"
	}
	return out + " " + bi.GoVersion
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the amtctl version and VCS revision",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.OutOrStdout(), Version())
			return runErr(err)
		},
	}
}
