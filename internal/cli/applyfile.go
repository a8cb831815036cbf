package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/amtctl/amtctl/pkg/ifla"
	"go.yaml.in/yaml/v3"
)

// fileLink is one entry of an apply file's "links" list: the Spec it asks
// for, plus which keys were given (only those are compared with the kernel)
// and the line of each, for error messages.
type fileLink struct {
	line  int            // line of the entry
	lines map[string]int // line of each key given
	netns string         // as written; "" means the command line's -n
	spec  amtlink.Spec
	up    *bool   // nil: the file does not say
	mstr  *string // master; nil: the file does not say, "": no master
	// relookup is when discovery driad:SOURCE is to be looked up again
	// (the zero time: at once); spec.AMT.Discovery holds the last
	// answer.
	relookup time.Time
}

// has reports whether the file gives key for this link.
func (l *fileLink) has(key string) bool { _, ok := l.lines[key]; return ok }

// label names the link in messages: its name, or its position.
func (l *fileLink) label(i int) string {
	if l.spec.Name != "" {
		return l.spec.Name
	}
	return fmt.Sprintf("links[%d]", i)
}

// lineOf is the line of key, or of the entry when key was not given.
func (l *fileLink) lineOf(key string) int {
	if n, ok := l.lines[key]; ok {
		return n
	}
	return l.line
}

// problem is one thing wrong with an apply file.
type problem struct {
	line int
	link string // "" for the file as a whole
	msg  string
}

func (p problem) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.line > 0 {
		b.WriteString(":" + strconv.Itoa(p.line))
	}
	b.WriteString(": ")
	if p.link != "" {
		b.WriteString(p.link + ": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// fileOnlyKeys are the keys of a link entry that are not add keywords, with
// the value each takes.
var fileOnlyKeys = []struct{ name, value string }{
	{"name", "the link's name, such as amtg"},
	{"netns", "a namespace name (ip netns add NAME) or path; leave the key out for the current one"},
}

// fileKeys are the keys of a link entry, in the order errors list them:
// fileOnlyKeys, then add's keywords as listed.
var fileKeys = sync.OnceValue(func() []string {
	var keys []string
	for _, k := range fileOnlyKeys {
		keys = append(keys, k.name)
	}
	for _, k := range listed() {
		if !k.pasteOnly {
			keys = append(keys, k.name)
		}
	}
	return keys
})

// yamlLine matches the line number yaml.v3 puts in its syntax errors.
// It is compiled on first use: every amtctl command would pay for it at
// start-up, and only a broken apply file needs it.
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// parseApplyFile reads an apply file (YAML, or JSON, which is YAML too). It
// returns the links and every problem found in them; values are parsed by
// pkg/ifla (AMT attributes) and by the add grammar's checks (names, mtu).
func parseApplyFile(r io.Reader) ([]*fileLink, []problem) {
	dec := yaml.NewDecoder(r)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []problem{{msg: `empty file; expected "links:" and a list of links`}}
		}
		return nil, []problem{yamlProblem(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []problem{{line: extra.Line, msg: `a second YAML document ("---"); put every link under one "links:" list`}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []problem{yamlProblem(err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, []problem{{line: root.Line, msg: `expected a mapping with the key "links" (links: followed by a list of links)`}}
	}
	var probs []problem
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value != "links":
			probs = append(probs, problem{line: k.Line, msg: fmt.Sprintf("unknown key %q; the file has one key, \"links\"", k.Value)})
		case list != nil:
			probs = append(probs, problem{line: k.Line, msg: fmt.Sprintf(`"links" given twice (first at line %d); give it once`, list.Line)})
		default:
			list = v
		}
	}
	if list == nil {
		if len(probs) == 0 {
			probs = append(probs, problem{line: root.Line, msg: `no "links" key; expected "links:" and a list of links`})
		}
		return nil, probs
	}
	if list.Tag == "!!null" {
		return nil, probs // "links:" with nothing: no links
	}
	if list.Kind != yaml.SequenceNode {
		return nil, append(probs, problem{line: list.Line, msg: `"links" must be a list ("- name: ..." entries)`})
	}
	links := make([]*fileLink, 0, len(list.Content))
	for i, n := range list.Content {
		l, ps := parseFileLink(n, i)
		links = append(links, l)
		probs = append(probs, ps...)
	}
	return links, probs
}

func yamlProblem(err error) problem {
	msg := strings.SplitN(err.Error(), "\n", 2)[0]
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return problem{line: n, msg: "not valid YAML or JSON: " + m[2]}
	}
	return problem{msg: "not valid YAML or JSON: " + strings.TrimPrefix(msg, "yaml: ")}
}

// parseFileLink parses the i-th entry of "links".
func parseFileLink(n *yaml.Node, i int) (*fileLink, []problem) {
	l := &fileLink{line: n.Line, lines: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		return l, []problem{{line: n.Line, link: l.label(i), msg: "expected a mapping of keys such as name, mode, local, dev"}}
	}
	// The name first, so that every other message can use it.
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "name" && n.Content[j+1].Kind == yaml.ScalarNode && n.Content[j+1].Tag != "!!null" {
			l.spec.Name = n.Content[j+1].Value
		}
	}
	var probs []problem
	add := func(line int, err error) {
		probs = append(probs, problem{line: line, link: l.label(i), msg: err.Error()})
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		key := k.Value
		if prev, dup := l.lines[key]; dup {
			add(k.Line, fmt.Errorf("%q given twice (first at line %d); give it once", key, prev))
			continue
		}
		if !isFileKey(key) {
			add(k.Line, fmt.Errorf("unknown key %q; expected one of: %s", key, strings.Join(fileKeys(), ", ")))
			continue
		}
		l.lines[key] = k.Line
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			add(v.Line, fmt.Errorf("%q needs a value: %s", key, fileValueHelp(key)))
			continue
		}
		if err := l.set(key, v); err != nil {
			add(v.Line, err)
		}
	}
	probs = append(probs, l.required(i)...)
	return l, probs
}

func isFileKey(k string) bool {
	for _, f := range fileKeys() {
		if f == k {
			return true
		}
	}
	return false
}

// fileValueHelp describes the value of key in a file: add's words, except
// that up is a boolean there.
func fileValueHelp(key string) string {
	for _, k := range fileOnlyKeys {
		if k.name == key {
			return k.value
		}
	}
	if key == "up" {
		return "true or false"
	}
	if k := lookupKeyword(key); k != nil {
		return k.value
	}
	return "a value"
}

// set stores the value v of key, parsed with the add grammar's parsers.
func (l *fileLink) set(key string, v *yaml.Node) error {
	s := &l.spec
	switch key {
	case "name":
		// Stored by parseFileLink. Unlike on add's command line, a name
		// that is also a keyword ("up") is unambiguous here.
		return amtlink.CheckName("name", v.Value)
	case "netns":
		if v.Value == "" {
			return &ifla.FieldError{Field: "netns", Reason: "empty", Fix: "name a namespace (ip netns add NAME) or leave the key out for the current one"}
		}
		l.netns = v.Value
		return nil
	case "up":
		// A YAML or JSON boolean; "true" and "false" in quotes too, but
		// not YAML 1.1's yes/no/on/off, which YAML 1.2 reads as strings.
		b, err := strconv.ParseBool(v.Value)
		if (v.Tag != "!!bool" && v.Value != "true" && v.Value != "false") || err != nil {
			return &ifla.FieldError{Field: "up", Value: v.Value, Reason: "not true or false", Fix: "write up: true or up: false (or leave it out to keep the link's state)"}
		}
		l.up = &b
		s.Up = b
		return nil
	case "master":
		m := v.Value
		l.mstr = &m
		if m == "" {
			return nil // no master: detach
		}
	}
	k := lookupKeyword(key)
	if k == nil {
		return fmt.Errorf("internal error: no parser for %q", key)
	}
	return k.set(s, v.Value)
}

// required reports the keys the link needs (amtlink.Spec.Missing) that the
// file does not give; a key given with a bad value is reported already.
func (l *fileLink) required(i int) []problem {
	var probs []problem
	for _, key := range l.spec.Missing() {
		if l.has(key) {
			continue
		}
		need, onlyFor := needOf(key)
		if onlyFor != "" {
			need = "a " + onlyFor + " needs " + need
		}
		probs = append(probs, problem{line: l.line, link: l.label(i), msg: fmt.Sprintf("%q is required: %s", key, need)})
	}
	return probs
}

// validateLinks checks each well-formed link as Create will (Spec.Validate)
// and that no name appears twice in one namespace. defaultNS is -n.
func validateLinks(links []*fileLink, probs []problem, defaultNS string) []problem {
	type key struct{ ns, name string }
	first := map[key]int{}
	for i, l := range links {
		if l.spec.Name == "" {
			continue
		}
		ns := l.nsOr(defaultNS)
		k := key{ns, l.spec.Name}
		if prev, dup := first[k]; dup {
			where := "this namespace"
			if ns != "" {
				where = fmt.Sprintf("netns %q", ns)
			}
			probs = append(probs, problem{line: l.lineOf("name"), link: l.spec.Name,
				msg: fmt.Sprintf("the name is used twice in %s (first at line %d); give each link its own name", where, prev)})
			continue
		}
		first[k] = l.lineOf("name")
		if hasProblemFor(probs, l.label(i)) {
			continue // already reported; Validate would repeat it
		}
		if err := validateSpec(l.spec); err != nil {
			line := l.line
			var fe *ifla.FieldError
			if errors.As(err, &fe) {
				line = l.lineOf(fe.Field)
				err = fe
			}
			probs = append(probs, problem{line: line, link: l.label(i), msg: err.Error()})
		}
	}
	return probs
}

func hasProblemFor(probs []problem, link string) bool {
	for _, p := range probs {
		if p.link == link {
			return true
		}
	}
	return false
}

// nsOr is the namespace the link goes to.
func (l *fileLink) nsOr(defaultNS string) string {
	if l.netns != "" {
		return l.netns
	}
	return defaultNS
}

// sortProblems orders problems by line, keeping the order of each line's.
func sortProblems(probs []problem) {
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].line < probs[j].line })
}
