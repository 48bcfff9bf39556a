package mx

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size offered (EDNS0), the DNS flag day 2020
// value that avoids IP fragmentation. Larger answers come back truncated and
// are asked again over TCP.
const ednsSize = 1232

// maxCNAMEChain bounds how many CNAMEs are followed inside one answer.
const maxCNAMEChain = 8

// question is a cache key: a normalised name (no trailing dot) and a type.
type question struct {
	name  string
	qtype uint16
}

func (q question) String() string { return q.name + " " + dns.TypeToString[q.qtype] }

// answer is the cached outcome of one question. It is immutable once cached.
type answer struct {
	mx    []mxRecord   // TypeMX
	addrs []netip.Addr // TypeA, TypeAAAA

	nxdomain bool  // the name (or its CNAME target) does not exist
	aliased  bool  // the name is a CNAME; records are its target's
	err      error // non-nil: a temporary failure, wrapping ErrTemporary

	expires time.Time
}

type mxRecord struct {
	host string // normalised; "" for the null MX target "."
	pref int
}

// query asks the resolvers q and turns the reply into an answer. Every
// failure it returns in answer.err is temporary.
func (r *Resolver) query(ctx context.Context, q question) *answer {
	resp, err := r.exchange(ctx, q)
	now := r.cfg.Clock()
	if err != nil {
		return &answer{
			err:     fmt.Errorf("%w: %s: %w", ErrTemporary, q, err),
			expires: now.Add(r.cfg.TempFailTTL),
		}
	}
	a, ttl := r.parse(resp, q)
	a.expires = now.Add(ttl)
	return a
}

// exchange sends q to each resolver in turn, Attempts passes, until one
// gives a usable reply (NOERROR or NXDOMAIN). A truncated UDP reply is
// asked again over TCP of the same resolver.
func (r *Resolver) exchange(ctx context.Context, q question) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.name), q.qtype)
	m.SetEdns0(ednsSize, false)

	var (
		lastErr error
		tries   int
	)
	for range r.cfg.Attempts {
		for _, server := range r.cfg.Resolvers {
			resp, err := r.exchangeOne(ctx, m, server)
			if err == nil {
				return resp, nil
			}
			lastErr, tries = err, tries+1
			if ctx.Err() != nil {
				break
			}
		}
	}
	return nil, fmt.Errorf("%w (%d tries)", lastErr, tries)
}

// exchangeOne asks one resolver, UDP then TCP on truncation.
func (r *Resolver) exchangeOne(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, _, err := r.udp.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		resp, _, err = r.tcp.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", server, err)
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) ||
		resp.Question[0].Qtype != m.Question[0].Qtype {
		return nil, fmt.Errorf("%s: reply is for another question", server)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s: %s", server, dns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

// parse reads the records of q from a NOERROR or NXDOMAIN reply, following
// a CNAME chain from q.name, and says how long to cache the answer: the
// smallest TTL of the records used, within [MinTTL, MaxTTL]; for NXDOMAIN
// and NODATA the SOA's negative TTL within [MinTTL, NegativeTTL].
func (r *Resolver) parse(resp *dns.Msg, q question) (*answer, time.Duration) {
	a := new(answer)
	owner := dns.Fqdn(q.name)
	minTTL := uint32(r.cfg.MaxTTL / time.Second)
	for range maxCNAMEChain {
		next := ""
		for _, rr := range resp.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
				next, minTTL = c.Target, min(minTTL, c.Hdr.Ttl)
				break
			}
		}
		if next == "" {
			break
		}
		owner, a.aliased = next, true
	}
	for _, rr := range resp.Answer {
		if !strings.EqualFold(rr.Header().Name, owner) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.MX:
			if q.qtype == dns.TypeMX {
				a.mx = append(a.mx, mxRecord{host: normalize(rr.Mx), pref: int(rr.Preference)})
				minTTL = min(minTTL, rr.Hdr.Ttl)
			}
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(rr.A); ok && q.qtype == dns.TypeA {
				a.addrs = append(a.addrs, ip.Unmap())
				minTTL = min(minTTL, rr.Hdr.Ttl)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(rr.AAAA); ok && q.qtype == dns.TypeAAAA {
				a.addrs = append(a.addrs, ip)
				minTTL = min(minTTL, rr.Hdr.Ttl)
			}
		}
	}
	a.nxdomain = resp.Rcode == dns.RcodeNameError
	if a.nxdomain || (len(a.mx) == 0 && len(a.addrs) == 0) {
		return a, r.negativeTTL(resp, minTTL)
	}
	return a, clamp(time.Duration(minTTL)*time.Second, r.cfg.MinTTL, r.cfg.MaxTTL)
}

// negativeTTL is how long to cache NXDOMAIN or NODATA: the SOA's TTL or
// minimum, whichever is smaller (RFC 2308 section 5), no longer than the
// CNAMEs that led there, within [MinTTL, NegativeTTL].
func (r *Resolver) negativeTTL(resp *dns.Msg, chainTTL uint32) time.Duration {
	ttl := r.cfg.NegativeTTL
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl = min(ttl, time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second)
		}
	}
	ttl = min(ttl, time.Duration(chainTTL)*time.Second)
	return clamp(ttl, r.cfg.MinTTL, r.cfg.NegativeTTL)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
