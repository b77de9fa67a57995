package pcapfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxFilterLength bounds a filter's text, and so what an error can echo.
const maxFilterLength = 1024

// node is a parsed filter: and, or, not, or a primitive.
type node interface{}

type and struct{ a, b node }
type or struct{ a, b node }
type not struct{ a node }

// proto matches a protocol: "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "sctp".
type proto struct{ name string }

// direction says which end of a packet an address or port is matched against.
type direction int

const (
	either direction = iota
	source
	destination
)

type host struct {
	dir  direction
	addr netip.Addr
}

type network struct {
	dir    direction
	prefix netip.Prefix
}

// ports matches [lo, hi] on the transports named (tcp, udp, sctp).
type ports struct {
	dir        direction
	lo, hi     uint16
	transports []string
}

var protocols = map[string]bool{"ip": true, "ip6": true, "arp": true, "tcp": true, "udp": true, "icmp": true, "icmp6": true, "sctp": true}

// token is a word or symbol of a filter and where it starts (1-based byte offset).
type token struct {
	text string
	pos  int
}

// tokenize splits a filter into words and the symbols ( ) ! && ||.
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, token{string(c), i + 1})
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, token{s[i : i+2], i + 1})
			i += 2
		case c > ' ' && c < 0x7f:
			j := i
			for j < len(s) && s[j] > ' ' && s[j] < 0x7f && !strings.ContainsRune("()!&|", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("position %d: unexpected %q", i+1, c)
			}
			toks = append(toks, token{s[i:j], i + 1})
			i = j
		default:
			return nil, fmt.Errorf("position %d: byte %#x is not part of a filter", i+1, c)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

func (p *parser) errorf(format string, args ...any) error {
	where := "at the end"
	if p.i < len(p.toks) {
		where = fmt.Sprintf("position %d (%.32q)", p.toks[p.i].pos, p.toks[p.i].text)
	}
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

// parse parses a whole filter; an empty one is refused (capture everything by saying so
// with no filter at all, not by accident).
func parse(s string) (node, error) {
	if len(s) > maxFilterLength {
		return nil, fmt.Errorf("%d bytes, more than %d", len(s), maxFilterLength)
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty")
	}
	p := &parser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errorf("expected and, or or the end")
	}
	return n, nil
}

// maxDepth bounds nesting, so that a filter cannot exhaust the stack.
const maxDepth = 64

func (p *parser) expr(depth int) (node, error) {
	n, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" || p.peek() == "||" {
		p.i++
		m, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		n = or{n, m}
	}
	return n, nil
}

func (p *parser) term(depth int) (node, error) {
	n, err := p.factor(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" || p.peek() == "&&" {
		p.i++
		m, err := p.factor(depth)
		if err != nil {
			return nil, err
		}
		n = and{n, m}
	}
	return n, nil
}

func (p *parser) factor(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested more than %d deep", maxDepth)
	}
	switch p.peek() {
	case "":
		return nil, p.errorf("expected a primitive")
	case "not", "!":
		p.i++
		n, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		return not{n}, nil
	case "(":
		p.i++
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errorf("expected )")
		}
		p.i++
		return n, nil
	}
	return p.primitive()
}

func (p *parser) primitive() (node, error) {
	var protoName string
	if protocols[p.peek()] {
		protoName = p.peek()
		p.i++
	}
	dir := either
	switch p.peek() {
	case "src":
		dir = source
		p.i++
	case "dst":
		dir = destination
		p.i++
	}
	kind := p.peek()
	if kind != "host" && kind != "net" && kind != "port" && kind != "portrange" {
		if protoName != "" && dir == either {
			return proto{protoName}, nil
		}
		return nil, p.errorf("expected a protocol, src, dst, host, net, port or portrange")
	}
	p.i++
	if p.i >= len(p.toks) {
		return nil, p.errorf("%s needs a value", kind)
	}
	value := p.peek()
	var n node
	switch kind {
	case "host":
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" {
			return nil, p.errorf("not an IP address")
		}
		n = host{dir, a.Unmap()}
	case "net":
		pr, err := netip.ParsePrefix(value)
		if err != nil {
			return nil, p.errorf("not a prefix such as 10.0.0.0/8")
		}
		if pr.Masked() != pr {
			return nil, p.errorf("has bits set past its length (did you mean %s?)", pr.Masked())
		}
		n = network{dir, pr}
	case "port", "portrange":
		lo, hi, err := portValues(kind, value)
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		transports := []string{"tcp", "udp", "sctp"}
		switch protoName {
		case "", "ip", "ip6":
		case "tcp", "udp", "sctp":
			transports = []string{protoName}
		default:
			return nil, p.errorf("%s has no ports", protoName)
		}
		n = ports{dir, lo, hi, transports}
	}
	p.i++
	if protoName != "" {
		n = and{proto{protoName}, n}
	}
	return n, nil
}

func portValues(kind, value string) (uint16, uint16, error) {
	if kind == "port" {
		v, err := strconv.ParseUint(value, 10, 16)
		if err != nil {
			return 0, 0, fmt.Errorf("not a port number (0 to 65535)")
		}
		return uint16(v), uint16(v), nil
	}
	a, b, ok := strings.Cut(value, "-")
	lo, err1 := strconv.ParseUint(a, 10, 16)
	hi, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || lo > hi {
		return 0, 0, fmt.Errorf("not a port range such as 8000-8080")
	}
	return uint16(lo), uint16(hi), nil
}
