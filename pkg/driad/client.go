package driad

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// response is one answer from one server, already checked to belong to
// the question.
type response struct {
	server netip.AddrPort
	header dnsmessage.Header
	msg    []byte
}

// exchange asks the servers in turn, Attempts rounds, for name/qtype. A
// server that does not answer in Timeout, or answers SERVFAIL, REFUSED or
// another error than NXDOMAIN, gives way to the next one; the last such
// outcome is what the error reports. A truncated UDP answer is asked again
// over TCP at the same server.
func (r *Resolver) exchange(ctx context.Context, name dnsmessage.Name, qtype dnsmessage.Type) (*response, error) {
	servers := r.Servers
	if len(servers) == 0 {
		return nil, &Error{Query: query(qtype, name), Err: ErrNoServer, Got: "no name server configured"}
	}
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var last *Error
	for a := 0; a < attempts; a++ {
		for _, s := range servers {
			resp, err := r.ask(ctx, s, name, qtype, timeout)
			if ctx.Err() != nil {
				return nil, &Error{Query: query(qtype, name), Server: s.String(), Err: ErrTimeout, Got: "no answer: " + ctx.Err().Error()}
			}
			if err != nil {
				last = &Error{Query: query(qtype, name), Server: s.String(), Err: err, Got: gotFor(err, timeout, attempts)}
				continue
			}
			switch rc := resp.header.RCode; rc {
			case dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError:
				return resp, nil
			case dnsmessage.RCodeServerFailure:
				last = &Error{Query: query(qtype, name), Server: s.String(), Err: ErrServFail, Got: "SERVFAIL (the server could not answer: a zone it failed to load, or a broken delegation)"}
			case dnsmessage.RCodeRefused:
				last = &Error{Query: query(qtype, name), Server: s.String(), Err: ErrRefused, Got: "REFUSED (the server will not answer this name: not its zone, and no recursion for us)"}
			default:
				last = &Error{Query: query(qtype, name), Server: s.String(), Err: ErrRcode, Got: "response code " + strings.TrimPrefix(rc.String(), "RCode")}
			}
		}
	}
	if len(servers) > 1 {
		last.Server = joinServers(servers)
	}
	return nil, last
}

func joinServers(s []netip.AddrPort) string {
	var b strings.Builder
	for i, a := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

func gotFor(err error, timeout time.Duration, attempts int) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return fmt.Sprintf("no answer within %v (%d attempts)", timeout, attempts)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (no DNS server listening there)"
	}
	return err.Error()
}

// ask sends one query to s, over UDP and then, when the answer is
// truncated, over TCP.
func (r *Resolver) ask(ctx context.Context, s netip.AddrPort, name dnsmessage.Name, qtype dnsmessage.Type, timeout time.Duration) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The query ID comes from the runtime's ChaCha8 generator, seeded
	// by the kernel, as the ID of Go's own resolver does (net's
	// randInt); crypto/rand would cost every amtctl command 30k
	// instructions at start-up for its FIPS module's set-up.
	id := uint16(rand.Uint32())
	q := dnsmessage.Question{Name: name, Type: qtype, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, fmt.Errorf("cannot ask for %q: %w", name.String(), err)
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	resp, err := r.roundTrip(ctx, "udp", s, msg, id, q)
	if err == nil && resp.header.Truncated {
		resp, err = r.roundTrip(ctx, "tcp", s, msg, id, q)
	}
	return resp, err
}

func (r *Resolver) roundTrip(ctx context.Context, network string, s netip.AddrPort, msg []byte, id uint16, q dnsmessage.Question) (*response, error) {
	dial := r.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	c, err := dial(ctx, network, s.String())
	if err != nil {
		return nil, netErr(err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if network == "tcp" {
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
		if _, err := c.Write(append(out, msg...)); err != nil {
			return nil, netErr(err)
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return nil, netErr(err)
		}
		buf := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil, netErr(err)
		}
		return check(s, buf, id, q)
	}
	if _, err := c.Write(msg); err != nil {
		return nil, netErr(err)
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, netErr(err)
		}
		resp, err := check(s, buf[:n], id, q)
		if errors.Is(err, errNotOurs) {
			continue // a late answer to an earlier query, or spoofing
		}
		return resp, err
	}
}

var errNotOurs = errors.New("not an answer to our question")

// check makes sure b answers question q with id.
func check(s netip.AddrPort, b []byte, id uint16, q dnsmessage.Question) (*response, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || !h.Response || h.ID != id {
		return nil, errNotOurs
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		if h.RCode != dnsmessage.RCodeSuccess && len(qs) == 0 {
			// Some servers leave the question out of an error.
			return &response{server: s, header: h, msg: b}, nil
		}
		return nil, errNotOurs
	}
	return &response{server: s, header: h, msg: b}, nil
}

func netErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrTimeout
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrTimeout
	}
	return err
}
