package driad

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amtctl/amtctl/pkg/amtrelay"
	"golang.org/x/net/dns/dnsmessage"
)

// Resolver asks DNS servers for AMTRELAY records. The zero value is not
// usable: set Servers, or start from [ReadResolvConf].
type Resolver struct {
	// Servers are the name servers, asked in order.
	Servers []netip.AddrPort
	// Timeout is how long one query waits for one server; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Attempts is how many rounds through Servers a query makes; 0 means
	// DefaultAttempts.
	Attempts int
	// Shuffle breaks ties between records of equal precedence, and
	// orders the addresses of a relay name; nil means math/rand/v2's
	// Shuffle. It is called once per run of ties (and per name), on
	// records sorted by their text (addresses in order), so a Shuffle
	// that swaps nothing gives a canonical order, whatever order the
	// server sent. RFC 8777 §4.2.1 wants the choice among equals to be
	// random; tests set it to keep their output fixed.
	Shuffle func(n int, swap func(i, j int))
	// Dial opens the connection to a server, with network "udp" or "tcp"
	// and address an IP:port, as net.Dialer.DialContext does; nil means
	// a net.Dialer's. A caller that must ask from elsewhere (another
	// network namespace, a bound source address) gives its own: this
	// package knows nothing of namespaces.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// The categories of failure; an [*Error] wraps exactly one, for errors.Is.
var (
	ErrNXDomain  = errors.New("driad: no such name")
	ErrNoRecord  = errors.New("driad: no record of the type asked for")
	ErrServFail  = errors.New("driad: server failure")
	ErrRefused   = errors.New("driad: query refused")
	ErrRcode     = errors.New("driad: error response")
	ErrTimeout   = errors.New("driad: no answer")
	ErrMalformed = errors.New("driad: malformed answer")
	ErrNoServer  = errors.New("driad: no name server")
	// ErrNoIPv4Relay: the records name relays, but none that the kernel's
	// IPv4-only AMT gateway can use (IPv6 relays, names without A records).
	ErrNoIPv4Relay = errors.New("driad: no usable IPv4 relay")
	// ErrNoRelay: the most preferred record is of type 0, which says no
	// AMT relay should be used for this source.
	ErrNoRelay = errors.New("driad: the source says no relay")
)

// Error is a failed lookup: what was asked, of whom, and what came back.
// Its message is one line:
//
//	asked 127.0.0.1:53 for AMTRELAY 12.100.51.198.in-addr.arpa., got NXDOMAIN (no such name)
type Error struct {
	Query  string // "AMTRELAY 12.100.51.198.in-addr.arpa."
	Server string // "127.0.0.1:53", or a list when every server failed
	Got    string // what came back, in words
	Err    error  // one of the Err* categories
}

func (e *Error) Error() string {
	s := "asked "
	if e.Server != "" {
		s += e.Server + " "
	}
	return s + "for " + e.Query + ", got " + e.Got
}

// Unwrap returns the category.
func (e *Error) Unwrap() error { return e.Err }

func query(t dnsmessage.Type, n dnsmessage.Name) string {
	name := n.String()
	if t == amtrelayType {
		return "AMTRELAY " + name
	}
	return strings.TrimPrefix(t.String(), "Type") + " " + name
}

const amtrelayType = dnsmessage.Type(amtrelay.RRType)

// Result is the outcome of a lookup: every record in the order a gateway
// tries them, and the relay it would use.
type Result struct {
	Source netip.Addr
	// Name is the reverse name asked for, and Server the server that
	// answered.
	Name   string
	Server netip.AddrPort
	// CNAMEs are the aliases followed from Name, in order.
	CNAMEs []string
	// TTL is the smallest TTL in the answer (the AMTRELAY records and the
	// CNAMEs that led to them): how long this result may be kept.
	TTL uint32
	// Candidates are the records, lower precedence first, ties shuffled.
	Candidates []Candidate
	// Chosen is the index in Candidates of the record the relay comes
	// from, and Relay its IPv4 address; -1 and the zero Addr when none.
	Chosen int
	Relay  netip.Addr
}

// Candidate is one AMTRELAY record and what became of it.
type Candidate struct {
	amtrelay.Record
	// Addrs are the relay's IPv4 addresses: the record's own for type 1,
	// the A records of its name for type 3.
	Addrs []netip.Addr
	// TTL is the TTL of the record, or for type 3 the smaller of it and
	// that of the A records.
	TTL uint32
	// Note says why the record was not used, or "" when it was (or was
	// never reached).
	Note string
}

// NoteIPv6 is the Note of an IPv6 relay.
const NoteIPv6 = "IPv6 relay: not used, the kernel's AMT tunnel is IPv4"

// ReverseName returns the reverse-mapping name of a: d.c.b.a.in-addr.arpa.
// for IPv4 (an IPv4-mapped IPv6 address counts as IPv4), the 32 nibbles
// under ip6.arpa. for IPv6.
func ReverseName(a netip.Addr) string {
	a = a.Unmap()
	var b strings.Builder
	if a.Is4() {
		v := a.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(v[i])))
			b.WriteByte('.')
		}
		b.WriteString("in-addr.arpa.")
		return b.String()
	}
	v := a.As16()
	const hexd = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b.WriteByte(hexd[v[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hexd[v[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// maxCNAMEs bounds the chain of aliases followed, as resolvers do.
const maxCNAMEs = 8

// Lookup does the DRIAD lookup of RFC 8777 §4.2 for source: it asks for
// AMTRELAY at source's reverse name (following CNAMEs), orders the records
// by precedence with ties shuffled, resolves type 3 names to A records and
// picks the first record that gives an IPv4 relay. IPv6 relays are listed
// but never chosen: the kernel's gateway tunnels over IPv4.
//
// On success the Result has Chosen >= 0. The error is an [*Error]
// compatible with errors.Is and one of ErrNXDomain, ErrNoRecord,
// ErrServFail, ErrRefused, ErrRcode, ErrTimeout, ErrMalformed, ErrNoServer
// (the query failed; the Result is nil), or ErrNoIPv4Relay and ErrNoRelay
// (the records came back but give no relay; the Result lists them).
func (r *Resolver) Lookup(ctx context.Context, source netip.Addr) (*Result, error) {
	if !source.IsValid() {
		return nil, errors.New("driad: no source address")
	}
	rev := ReverseName(source)
	ans, err := r.resolve(ctx, rev, amtrelayType)
	if err != nil {
		return nil, err
	}
	res := &Result{Source: source, Name: rev, Server: ans.server, CNAMEs: ans.cnames, TTL: ans.ttl, Chosen: -1}
	for _, rr := range ans.rrs {
		rec, err := amtrelay.Decode(rr.data)
		c := Candidate{Record: rec, TTL: rr.ttl}
		switch {
		case errors.Is(err, amtrelay.ErrUnknownType):
			c.Record = amtrelay.Record{Precedence: rr.data[0], DiscoveryOptional: rr.data[1]&0x80 != 0, Type: amtrelay.RelayType(rr.data[1] & 0x7f)}
			c.Note = fmt.Sprintf("skipped: relay type %d is not assigned", c.Type)
		case err != nil:
			return nil, &Error{Query: query(amtrelayType, ans.final), Server: ans.server.String(), Err: ErrMalformed,
				Got: fmt.Sprintf("a malformed AMTRELAY record (RDATA %x): %v", rr.data, err)}
		}
		res.Candidates = append(res.Candidates, c)
	}
	shuffle := r.Shuffle
	if shuffle == nil {
		shuffle = rand.Shuffle
	}
	// Sort by precedence, ties by their text so that the order does not
	// depend on the order the server sent them in, then shuffle each run
	// of ties: with a Shuffle that swaps nothing the order is canonical.
	slices.SortFunc(res.Candidates, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.Precedence, b.Precedence), strings.Compare(a.String(), b.String()))
	})
	for i := 0; i < len(res.Candidates); {
		j := i + 1
		for j < len(res.Candidates) && res.Candidates[j].Precedence == res.Candidates[i].Precedence {
			j++
		}
		tie := res.Candidates[i:j]
		shuffle(len(tie), func(a, b int) { tie[a], tie[b] = tie[b], tie[a] })
		i = j
	}

	stopped := -1 // the type 0 record that ended the search
	for i := range res.Candidates {
		c := &res.Candidates[i]
		switch c.Type {
		case amtrelay.TypeIPv4:
			c.Addrs = []netip.Addr{c.Addr}
		case amtrelay.TypeIPv6:
			c.Note = NoteIPv6
		case amtrelay.TypeName:
			r.resolveName(ctx, c, shuffle)
		}
		if res.Chosen >= 0 || stopped >= 0 {
			continue
		}
		switch {
		case c.Type == amtrelay.TypeNone:
			stopped = i
		case len(c.Addrs) > 0:
			res.Chosen, res.Relay = i, c.Addrs[0]
			res.TTL = min(res.TTL, c.TTL)
		}
	}
	if res.Chosen >= 0 {
		return res, nil
	}
	e := &Error{Query: query(amtrelayType, mustName(rev)), Server: ans.server.String()}
	if stopped >= 0 {
		e.Err = ErrNoRelay
		e.Got = fmt.Sprintf("%q: relay type 0 at precedence %d, which says no AMT relay should be used for this source", res.Candidates[stopped].String(), res.Candidates[stopped].Precedence)
		return res, e
	}
	e.Err = ErrNoIPv4Relay
	var kinds []string
	for _, c := range res.Candidates {
		kinds = append(kinds, fmt.Sprintf("%q (%s)", c.String(), strings.TrimPrefix(strings.TrimPrefix(c.Note, "skipped: "), "IPv6 relay: not used, ")))
	}
	e.Got = fmt.Sprintf("no IPv4 relay the kernel's AMT gateway can use: %s", strings.Join(kinds, ", "))
	if allIPv6(res.Candidates) {
		e.Got = fmt.Sprintf("only IPv6 relays (%s), but the kernel's AMT tunnel is IPv4", ipv6List(res.Candidates))
	}
	return res, e
}

func allIPv6(cs []Candidate) bool {
	for _, c := range cs {
		if c.Type != amtrelay.TypeIPv6 {
			return false
		}
	}
	return len(cs) > 0
}

func ipv6List(cs []Candidate) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Addr.String()
	}
	return strings.Join(s, ", ")
}

// resolveName fills in the A records of a type 3 candidate, or its Note.
func (r *Resolver) resolveName(ctx context.Context, c *Candidate, shuffle func(int, func(i, j int))) {
	name, err := lookupName(c.Name)
	if err != nil {
		c.Note = err.Error()
		return
	}
	ans, err := r.resolve(ctx, name, dnsmessage.TypeA)
	if err != nil {
		c.Note = err.Error()
		return
	}
	for _, rr := range ans.rrs {
		c.Addrs = append(c.Addrs, netip.AddrFrom4([4]byte(rr.data)))
	}
	slices.SortFunc(c.Addrs, netip.Addr.Compare)
	shuffle(len(c.Addrs), func(i, j int) { c.Addrs[i], c.Addrs[j] = c.Addrs[j], c.Addrs[i] })
	c.TTL = min(c.TTL, ans.ttl)
}

// lookupName turns a relay name in presentation form into the dotted form
// dnsmessage sends: escapes undone. A label holding a "." cannot be said
// that way.
func lookupName(s string) (string, error) {
	w, err := (amtrelay.Record{Type: amtrelay.TypeName, Name: s}).MarshalBinary()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for w = w[2:]; len(w) > 0 && w[0] != 0; w = w[1+int(w[0]):] {
		l := w[1 : 1+int(w[0])]
		if strings.IndexByte(string(l), '.') >= 0 {
			return "", fmt.Errorf("relay name %s has a label with a dot in it, which this resolver cannot ask for", s)
		}
		b.Write(l)
		b.WriteByte('.')
	}
	return b.String(), nil
}

func mustName(s string) dnsmessage.Name {
	n, _ := dnsmessage.NewName(s)
	return n
}

// rr is one answer record of the type asked for.
type rr struct {
	ttl  uint32
	data []byte // RDATA: an UnknownResource's bytes, or an A's 4 bytes
}

// answer is the outcome of resolve.
type answer struct {
	server netip.AddrPort
	cnames []string
	final  dnsmessage.Name // the name the records are at
	ttl    uint32          // smallest TTL of rrs and the CNAMEs
	rrs    []rr
}

// resolve asks for name/qtype and follows CNAMEs, in the answer and, when
// an answer ends at an alias, by asking again for its target.
func (r *Resolver) resolve(ctx context.Context, name string, qtype dnsmessage.Type) (*answer, error) {
	qn, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, fmt.Errorf("driad: cannot ask for %q: %w", name, err)
	}
	out := &answer{ttl: ^uint32(0)}
	cur := qn
	for {
		before := len(out.cnames)
		resp, err := r.exchange(ctx, cur, qtype)
		if err != nil {
			return nil, err
		}
		out.server = resp.server
		malformed := func(err error) error {
			return &Error{Query: query(qtype, cur), Server: resp.server.String(), Err: ErrMalformed, Got: "a malformed answer: " + err.Error()}
		}
		var p dnsmessage.Parser
		if _, err := p.Start(resp.msg); err != nil {
			return nil, malformed(err)
		}
		if err := p.SkipAllQuestions(); err != nil {
			return nil, malformed(err)
		}
		// Collect the answer section first: CNAMEs may come in any order.
		cn := map[string]dnsmessage.ResourceHeader{}
		cnTarget := map[string]dnsmessage.Name{}
		var recs []struct {
			h    dnsmessage.ResourceHeader
			data []byte
		}
		for {
			h, err := p.AnswerHeader()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				break
			}
			if err != nil {
				return nil, malformed(err)
			}
			switch {
			case h.Class != dnsmessage.ClassINET:
				err = p.SkipAnswer()
			case h.Type == dnsmessage.TypeCNAME:
				var c dnsmessage.CNAMEResource
				c, err = p.CNAMEResource()
				key := strings.ToLower(h.Name.String())
				cn[key], cnTarget[key] = h, c.CNAME
			case h.Type == qtype && qtype == dnsmessage.TypeA:
				var a dnsmessage.AResource
				a, err = p.AResource()
				recs = append(recs, struct {
					h    dnsmessage.ResourceHeader
					data []byte
				}{h, a.A[:]})
			case h.Type == qtype:
				var u dnsmessage.UnknownResource
				u, err = p.UnknownResource()
				recs = append(recs, struct {
					h    dnsmessage.ResourceHeader
					data []byte
				}{h, u.Data})
			default:
				err = p.SkipAnswer()
			}
			if err != nil {
				return nil, malformed(err)
			}
		}
		for {
			key := strings.ToLower(cur.String())
			h, ok := cn[key]
			if !ok {
				break
			}
			if len(out.cnames) >= maxCNAMEs {
				return nil, &Error{Query: query(qtype, qn), Server: resp.server.String(), Err: ErrMalformed, Got: fmt.Sprintf("more than %d CNAMEs in a row (%s)", maxCNAMEs, strings.Join(out.cnames, " -> "))}
			}
			delete(cn, key) // a loop ends here
			cur = cnTarget[key]
			out.cnames = append(out.cnames, cur.String())
			out.ttl = min(out.ttl, h.TTL)
		}
		for _, rc := range recs {
			if strings.EqualFold(rc.h.Name.String(), cur.String()) {
				out.rrs = append(out.rrs, rr{ttl: rc.h.TTL, data: rc.data})
				out.ttl = min(out.ttl, rc.h.TTL)
			}
		}
		if len(out.rrs) > 0 {
			out.final = cur
			return out, nil
		}
		what := query(qtype, qn)
		if len(out.cnames) > 0 {
			what += " (CNAME " + strings.Join(out.cnames, " -> ") + ")"
		}
		if resp.header.RCode == dnsmessage.RCodeNameError {
			return nil, &Error{Query: what, Server: resp.server.String(), Err: ErrNXDomain, Got: "NXDOMAIN (no such name)"}
		}
		if len(out.cnames) > before {
			// The answer ended at an alias whose target the server
			// did not give: ask for the target.
			continue
		}
		t := strings.TrimPrefix(qtype.String(), "Type")
		if qtype == amtrelayType {
			t = "AMTRELAY"
		}
		return nil, &Error{Query: what, Server: resp.server.String(), Err: ErrNoRecord, Got: fmt.Sprintf("no %s record (NOERROR, empty answer)", t)}
	}
}
