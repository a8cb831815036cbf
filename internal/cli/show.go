package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/spf13/cobra"
)

func newShowCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:     "show [NAME]",
		Aliases: []string{"list", "ls"},
		Short:   "Show AMT links as a table, or as JSON with -j",
		Long: `Show every AMT link of the namespace, or the one called NAME.

The table has one row per link: NAME, MODE, STATE (operstate), DEV (the lower
device), LOCAL, DISCOVERY, REMOTE, PORTS (gateway_port/relay_port),
MAX_TUNNELS and RX/TX packets. A gateway that has not found its relay yet
reads "discovering" under REMOTE; a relay has no discovery address or remote
and reads "-". A discovery address amtctl found from a name is followed by
the name, "10.0.0.1 (driad:198.51.100.12)" or "192.52.193.1 (anycast)",
read from the link's alias (amtctl:driad=SOURCE, amtctl:anycast). With no
AMT links the table is the header line alone.

With -j the output is a JSON array shaped like "ip -d -s -j link show": the
same keys and value types, so jq filters written for iproute2 keep working,
e.g. jq -r '.[0].linkinfo.info_data.remote'. "remote" is absent until a
gateway has discovered its relay, exactly as with iproute2. Beside
iproute2's keys, "amtctl" holds amtctl's own: "discovery_from" is
"driad:SOURCE" or "anycast" for a gateway made from a name
(jq -r '.[0].amtctl.discovery_from'); the alias itself is "ifalias", as
iproute2 prints it.`,
		Example: `  amtctl show
  amtctl -n gw show amtg -j -p`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("show takes at most one link name, got %d (%s); usage: amtctl show [NAME]", len(args), quoteAll(args))
			}
			return nil
		},
		ValidArgsFunction: o.completeLinkNames,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := amtlink.CheckName("name", args[0]); err != nil {
					return err
				}
			}
			b, err := o.backend()
			if err != nil {
				return err
			}
			defer b.Close()
			var links []amtlink.Link
			if len(args) == 1 {
				l, err := b.Get(args[0])
				if err != nil {
					return failure{name: args[0], netns: o.netns}.error(err)
				}
				links = []amtlink.Link{*l}
			} else {
				links, err = b.List()
				if err != nil {
					return failure{op: "list", netns: o.netns}.error(err)
				}
			}
			if o.json {
				return o.printJSON(c, links)
			}
			return printTable(c.OutOrStdout(), links)
		},
	}
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// Views converts links to their views, in order.
func Views(links []amtlink.Link) []LinkView {
	vs := make([]LinkView, 0, len(links))
	for _, l := range links {
		vs = append(vs, NewLinkView(l))
	}
	return vs
}

func (o *options) printJSON(c *cobra.Command, links []amtlink.Link) error {
	return writeJSON(c.OutOrStdout(), Views(links), o.pretty)
}

// writeJSON prints v (show's views, relay lookup's answer, probe's and send's
// reports) as JSON and a newline; compact like "ip -j", indented like "ip -j -p" when pretty.
func writeJSON(w io.Writer, v any, pretty bool) error {
	var b []byte
	var err error
	if pretty {
		b, err = json.MarshalIndent(v, "", "    ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return runErr(fmt.Errorf("encode JSON: %w", err))
	}
	_, err = w.Write(append(b, '\n'))
	return runErr(err)
}

// printTable renders links as a borderless, left-aligned table with two
// spaces between columns and no trailing blanks.
func printTable(w io.Writer, links []amtlink.Link) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	io.WriteString(tw, strings.Join(tableHeader, "\t")+"\n")
	for _, v := range Views(links) {
		io.WriteString(tw, strings.Join(v.row(), "\t")+"\n")
	}
	if err := tw.Flush(); err != nil {
		return runErr(fmt.Errorf("render table: %w", err))
	}
	var out strings.Builder
	out.Grow(buf.Len())
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		out.WriteString(strings.TrimRight(line, " "))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return runErr(err)
}

func newDelCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:     "del NAME",
		Aliases: []string{"delete"},
		Short:   "Delete an AMT link",
		Long:    "Delete the AMT link called NAME. A link of another kind is refused, never deleted.",
		Example: "  amtctl del amtg\n  amtctl -n gw del amtg",
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("del needs a link name; usage: amtctl del NAME (see amtctl show)")
			case len(args) > 1:
				return usagef("del takes exactly one link name, got %d (%s); usage: amtctl del NAME", len(args), quoteAll(args))
			}
			return nil
		},
		ValidArgsFunction: o.completeLinkNames,
		RunE:              func(c *cobra.Command, args []string) error { return o.runDel(args[0]) },
	}
}

// runDel deletes the AMT link name.
func (o *options) runDel(name string) error {
	if err := amtlink.CheckName("name", name); err != nil {
		return err
	}
	b, err := o.backend()
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Delete(name); err != nil {
		return failure{name: name, netns: o.netns}.error(err)
	}
	return nil
}
