package cli

import (
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// completeNetNS completes -n with the names in /run/netns.
func (o *options) completeNetNS(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	dir := o.netnsDir
	if dir == "" {
		dir = "/run/netns"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), toComplete) {
			out = append(out, e.Name())
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeAdd completes the add grammar: nothing for NAME, the values of
// mode and type, device names after dev and master, and otherwise the
// keywords not used yet.
func (o *options) completeAdd(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	used := map[string]bool{}
	var pending *keyword // keyword still waiting for its value
	for _, w := range args[1:] {
		if pending != nil {
			pending = nil
			continue
		}
		if k := lookupKeyword(w); k != nil {
			used[w] = true
			if k.arg != "" {
				pending = k
			}
		}
	}
	if pending != nil {
		if pending.values == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp // a free value: address, port, number
		}
		return filterPrefix(pending.values(o), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	var rest []string
	for _, k := range addKeywords {
		if !used[k.name] && !k.pasteOnly {
			rest = append(rest, k.name)
		}
	}
	return filterPrefix(rest, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeLinkNames completes show and del with the amt links of the
// namespace.
func (o *options) completeLinkNames(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	b, err := o.open(o.netns)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer b.Close()
	links, err := b.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	return filterPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// deviceNames lists the devices of the namespace, or none when the backend
// cannot.
func (o *options) deviceNames() []string {
	b, err := o.open(o.netns)
	if err != nil {
		return nil
	}
	defer b.Close()
	ifs, err := b.Interfaces()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ifs))
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names
}

func filterPrefix(words []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
