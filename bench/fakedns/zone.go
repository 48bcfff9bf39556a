package fakedns

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// MX is one MX record: a mail exchanger host name and its preference
// (lower is tried first).
type MX struct {
	Host string
	Pref int
}

// SyntheticTTL is the TTL of every synthetic record, long so that a load test
// measures mail, not DNS.
const SyntheticTTL = time.Hour

// maxCNAMEChain bounds the CNAME chain the server follows in one answer.
const maxCNAMEChain = 8

// entry is everything the server knows about one name. Setters replace the
// part they own; an entry with no records still exists (its answers are
// NODATA, not NXDOMAIN).
type entry struct {
	mx     []MX
	mxTTL  time.Duration
	nullMX bool

	addrs []netip.Addr
	aTTL  time.Duration

	cname    string
	cnameTTL time.Duration

	nxdomain bool
	servfail bool
	delay    time.Duration
}

// synthetic is one tree of names answered without per-name setup.
type synthetic struct {
	suffix  string // canonical
	mxHosts int    // 0: simple mode
	addrs   []netip.Addr
}

// SetMX sets the MX records of domain, replacing any earlier ones (and a
// null MX or NXDOMAIN script).
func (s *Server) SetMX(domain string, ttl time.Duration, mx ...MX) {
	s.edit(domain, func(e *entry) {
		e.mx = append([]MX(nil), mx...)
		e.mxTTL, e.nullMX, e.nxdomain = ttl, false, false
	})
}

// SetNullMX makes domain publish a null MX (RFC 7505: one MX record with
// preference 0 and target "."), replacing its MX records. Its TTL is the
// negative TTL.
func (s *Server) SetNullMX(domain string) {
	s.edit(domain, func(e *entry) {
		e.mx, e.nullMX, e.nxdomain = nil, true, false
		e.mxTTL = s.mu.negTTL
	})
}

// SetA sets the addresses of host, replacing earlier ones: IPv4 addresses
// answer A queries, IPv6 addresses answer AAAA queries.
func (s *Server) SetA(host string, ttl time.Duration, addrs ...netip.Addr) {
	s.edit(host, func(e *entry) {
		e.addrs = append([]netip.Addr(nil), addrs...)
		e.aTTL, e.nxdomain = ttl, false
	})
}

// SetCNAME makes name an alias of target. Queries for name are answered with
// the CNAME followed by target's records of the asked type, as a recursive
// resolver would.
func (s *Server) SetCNAME(name, target string, ttl time.Duration) {
	s.edit(name, func(e *entry) {
		e.cname, e.cnameTTL, e.nxdomain = dns.CanonicalName(target), ttl, false
	})
}

// SetNXDomain makes every query for name answer NXDOMAIN, also under a
// synthetic suffix. An unknown name answers NXDOMAIN anyway.
func (s *Server) SetNXDomain(name string) {
	s.edit(name, func(e *entry) { *e = entry{nxdomain: true, delay: e.delay} })
}

// SetServFail makes every query for name answer SERVFAIL until Clear.
func (s *Server) SetServFail(name string) {
	s.edit(name, func(e *entry) { e.servfail = true })
}

// SetDelay holds every answer for name back by d (0 removes the delay).
// A delay longer than the client's timeout looks like a lost packet.
func (s *Server) SetDelay(name string, d time.Duration) {
	s.edit(name, func(e *entry) { e.delay = d })
}

// SetNegativeTTL sets the TTL and minimum of the SOA record sent with
// NXDOMAIN and NODATA answers (RFC 2308). Default DefaultNegativeTTL.
func (s *Server) SetNegativeTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.negTTL = d
}

// Clear forgets everything set for name: records, failure scripts, delay.
func (s *Server) Clear(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.names, dns.CanonicalName(name))
}

// Synthetic answers every name strictly under suffix (e.g. "test") that has
// no records of its own, so a benchmark can use millions of domains:
//
//   - with mxHosts > 0, domain d gets one MX, mx<k>.<suffix> with
//     k = FNV-1a(d) mod mxHosts: N domains roll up onto mxHosts MX hosts;
//   - with mxHosts == 0 (simple mode, as for `sluice sink --dns`), domain d
//     gets one MX, mx.<d>;
//
// and every name under suffix resolves to addr (A if it is IPv4, AAAA if
// IPv6), so every MX host is the sink. Records have SyntheticTTL.
// Calling it again for the same suffix replaces that suffix's setting.
func (s *Server) Synthetic(suffix string, mxHosts int, addr netip.Addr) {
	s.SyntheticSpread(suffix, mxHosts, []netip.Addr{addr})
}

// SyntheticSpread is Synthetic with the MX hosts spread over several
// addresses (a sink listening on many loopback addresses): host mx<k>
// resolves to addrs[k mod len(addrs)]; in simple mode host mx.<d> to
// addrs[FNV-1a(d) mod len(addrs)]. Any other name under suffix resolves to
// addrs[0]. It panics if addrs is empty or mxHosts negative.
func (s *Server) SyntheticSpread(suffix string, mxHosts int, addrs []netip.Addr) {
	if mxHosts < 0 || len(addrs) == 0 {
		panic(fmt.Sprintf("fakedns: Synthetic: mxHosts %d, %d addresses", mxHosts, len(addrs)))
	}
	suffix = dns.CanonicalName(suffix)
	syn := synthetic{suffix: suffix, mxHosts: mxHosts}
	for _, a := range addrs {
		syn.addrs = append(syn.addrs, a.Unmap())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.mu.synthetic {
		if s.mu.synthetic[i].suffix == suffix {
			s.mu.synthetic[i] = syn
			return
		}
	}
	s.mu.synthetic = append(s.mu.synthetic, syn)
}

// edit applies f to the entry of name, creating it.
func (s *Server) edit(name string, f func(*entry)) {
	name = dns.CanonicalName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.mu.names[name]
	if e == nil {
		e = new(entry)
		s.mu.names[name] = e
	}
	f(e)
}

// lookup returns the entry for a canonical name: its own, else a synthetic
// one, else nil (NXDOMAIN). Callers hold s.mu.
func (s *Server) lookup(name string) *entry {
	if e := s.mu.names[name]; e != nil {
		return e
	}
	for _, syn := range s.mu.synthetic {
		if name != syn.suffix && dns.IsSubDomain(syn.suffix, name) {
			return syn.entry(name)
		}
	}
	return nil
}

// entry synthesises the records of name.
func (syn synthetic) entry(name string) *entry {
	target := "mx." + name
	if syn.mxHosts > 0 {
		target = fmt.Sprintf("mx%d.%s", fnv32(name)%uint32(syn.mxHosts), syn.suffix)
	}
	return &entry{
		mx:    []MX{{Host: target, Pref: 10}},
		mxTTL: SyntheticTTL,
		addrs: []netip.Addr{syn.addrOf(name)},
		aTTL:  SyntheticTTL,
	}
}

// addrOf returns the address host name resolves to: mx<k>.<suffix> the
// k-th address (cyclically), mx.<d> one picked by d's hash, else the first.
func (syn synthetic) addrOf(name string) netip.Addr {
	n := uint32(len(syn.addrs))
	if n == 1 {
		return syn.addrs[0]
	}
	if d, ok := strings.CutPrefix(name, "mx."); ok {
		return syn.addrs[fnv32(d)%n]
	}
	if host, ok := strings.CutSuffix(name, "."+syn.suffix); ok && strings.HasPrefix(host, "mx") {
		if k, err := strconv.ParseUint(host[2:], 10, 32); err == nil {
			return syn.addrs[uint32(k)%n]
		}
	}
	return syn.addrs[0]
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// answer builds the reply to q and says how long to hold it back.
func (s *Server) answer(req *dns.Msg, q dns.Question) (*dns.Msg, time.Duration) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true

	s.mu.RLock()
	defer s.mu.RUnlock()
	name := dns.CanonicalName(q.Name)
	e := s.lookup(name)
	if e == nil {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = append(resp.Ns, s.soa(name))
		return resp, 0
	}
	delay := e.delay
	for range maxCNAMEChain {
		if e.nxdomain || e.servfail || e.cname == "" || q.Qtype == dns.TypeCNAME {
			break
		}
		resp.Answer = append(resp.Answer, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME, e.cnameTTL), Target: e.cname})
		name = e.cname
		if e = s.lookup(name); e == nil {
			resp.Rcode = dns.RcodeNameError
			resp.Ns = append(resp.Ns, s.soa(name))
			return resp, delay
		}
	}
	switch {
	case e.servfail:
		resp.Answer = nil
		resp.Rcode = dns.RcodeServerFailure
	case e.nxdomain:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = append(resp.Ns, s.soa(name))
	default:
		resp.Answer = append(resp.Answer, e.records(name, q.Qtype)...)
		if len(resp.Answer) == 0 {
			resp.Ns = append(resp.Ns, s.soa(name))
		}
	}
	return resp, delay
}

// records returns e's records of type qtype, owned by name.
func (e *entry) records(name string, qtype uint16) []dns.RR {
	var rrs []dns.RR
	switch qtype {
	case dns.TypeMX:
		if e.nullMX {
			return []dns.RR{&dns.MX{Hdr: hdr(name, dns.TypeMX, e.mxTTL), Preference: 0, Mx: "."}}
		}
		for _, mx := range e.mx {
			rrs = append(rrs, &dns.MX{Hdr: hdr(name, dns.TypeMX, e.mxTTL), Preference: uint16(mx.Pref), Mx: dns.CanonicalName(mx.Host)})
		}
	case dns.TypeA, dns.TypeAAAA:
		for _, a := range e.addrs {
			a = a.Unmap()
			switch {
			case a.Is4() && qtype == dns.TypeA:
				rrs = append(rrs, &dns.A{Hdr: hdr(name, dns.TypeA, e.aTTL), A: a.AsSlice()})
			case a.Is6() && qtype == dns.TypeAAAA:
				rrs = append(rrs, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, e.aTTL), AAAA: a.AsSlice()})
			}
		}
	case dns.TypeCNAME:
		if e.cname != "" {
			rrs = append(rrs, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME, e.cnameTTL), Target: e.cname})
		}
	}
	return rrs
}

// soa is the SOA record sent with negative answers. Callers hold s.mu.
func (s *Server) soa(name string) dns.RR {
	ttl := seconds(s.mu.negTTL)
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  "ns.fakedns.", Mbox: "hostmaster.fakedns.",
		Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl,
	}
}

func hdr(name string, rrtype uint16, ttl time.Duration) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: seconds(ttl)}
}

func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(d / time.Second)
}
