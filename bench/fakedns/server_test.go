package fakedns

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer starts a Server on loopback, closed at the end of the test.
func testServer(t *testing.T) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// ask sends one question over net ("udp" or "tcp") without EDNS0.
func ask(t *testing.T, s *Server, net, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: net, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s %s: %v", net, name, dns.TypeToString[qtype], err)
	}
	return resp
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func TestServer_Records_AnsweredOverUDPAndTCP(t *testing.T) {
	s := testServer(t)
	s.SetMX("Example.COM.", time.Minute, MX{"mx1.example.com", 10}, MX{"mx2.example.com", 20})
	s.SetA("mx1.example.com", time.Minute, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
	s.SetCNAME("alias.example.com", "mx1.example.com", 30*time.Second)

	tests := []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"example.com", dns.TypeMX, []string{
			"example.com.\t60\tIN\tMX\t10 mx1.example.com.",
			"example.com.\t60\tIN\tMX\t20 mx2.example.com.",
		}},
		{"mx1.example.com", dns.TypeA, []string{"mx1.example.com.\t60\tIN\tA\t192.0.2.1"}},
		{"MX1.example.com", dns.TypeAAAA, []string{"mx1.example.com.\t60\tIN\tAAAA\t2001:db8::1"}},
		{"alias.example.com", dns.TypeA, []string{
			"alias.example.com.\t30\tIN\tCNAME\tmx1.example.com.",
			"mx1.example.com.\t60\tIN\tA\t192.0.2.1",
		}},
	}
	for _, net := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(net+"/"+tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				resp := ask(t, s, net, tt.name, tt.qtype)
				if resp.Rcode != dns.RcodeSuccess {
					t.Fatalf("rcode %s", dns.RcodeToString[resp.Rcode])
				}
				if got := rrStrings(resp.Answer); !slices.Equal(got, tt.want) {
					t.Errorf("answer\n got %q\nwant %q", got, tt.want)
				}
			})
		}
	}
	if got := s.Queries(); got != int64(2*len(tests)) {
		t.Errorf("Queries() = %d, want %d", got, 2*len(tests))
	}
}

func TestServer_NegativeAnswers_CarrySOAWithNegativeTTL(t *testing.T) {
	s := testServer(t)
	s.SetNegativeTTL(42 * time.Second)
	s.SetMX("nodata.test", time.Minute, MX{"mx.nodata.test", 10})
	s.SetMX("gone.test", time.Minute, MX{"mx.gone.test", 10})
	s.SetNXDomain("gone.test")

	tests := []struct {
		name      string
		qtype     uint16
		wantRcode int
	}{
		{"unknown.test", dns.TypeMX, dns.RcodeNameError},
		{"gone.test", dns.TypeMX, dns.RcodeNameError},
		{"nodata.test", dns.TypeA, dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ask(t, s, "udp", tt.name, tt.qtype)
			if resp.Rcode != tt.wantRcode || len(resp.Answer) != 0 {
				t.Fatalf("rcode %s, %d answers", dns.RcodeToString[resp.Rcode], len(resp.Answer))
			}
			soa, ok := resp.Ns[0].(*dns.SOA)
			if !ok || soa.Minttl != 42 || soa.Hdr.Ttl != 42 {
				t.Errorf("authority %v, want SOA with TTL and minimum 42", resp.Ns)
			}
		})
	}
}

func TestServer_NullMXAndServFail(t *testing.T) {
	s := testServer(t)
	s.SetNullMX("nomail.test")
	s.SetServFail("broken.test")

	if resp := ask(t, s, "udp", "nomail.test", dns.TypeMX); len(resp.Answer) != 1 ||
		resp.Answer[0].(*dns.MX).Mx != "." || resp.Answer[0].(*dns.MX).Preference != 0 {
		t.Errorf("null MX answer %v", resp.Answer)
	}
	if resp := ask(t, s, "udp", "broken.test", dns.TypeMX); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	s.Clear("broken.test")
	if resp := ask(t, s, "udp", "broken.test", dns.TypeMX); resp.Rcode != dns.RcodeNameError {
		t.Errorf("after Clear: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
}

func TestServer_LargeAnswerOverUDP_IsTruncated(t *testing.T) {
	s := testServer(t)
	var mxs []MX
	for i := range 40 {
		mxs = append(mxs, MX{fmt.Sprintf("mail-exchanger-%02d.example.net", i), i})
	}
	s.SetMX("big.test", time.Minute, mxs...)

	if resp := ask(t, s, "udp", "big.test", dns.TypeMX); !resp.Truncated || len(resp.Answer) == len(mxs) {
		t.Errorf("UDP: truncated %v with %d answers, want TC and fewer than %d", resp.Truncated, len(resp.Answer), len(mxs))
	}
	if resp := ask(t, s, "tcp", "big.test", dns.TypeMX); resp.Truncated || len(resp.Answer) != len(mxs) {
		t.Errorf("TCP: truncated %v with %d answers, want all %d", resp.Truncated, len(resp.Answer), len(mxs))
	}
}

func TestServer_Synthetic_RollsDomainsOntoMXHosts(t *testing.T) {
	s := testServer(t)
	sink := netip.MustParseAddr("127.0.0.2")
	s.Synthetic("bench.", 4, sink)
	s.Synthetic("test", 0, netip.MustParseAddr("::1"))
	s.SetMX("real.bench", time.Minute, MX{"elsewhere.example", 5})

	targets := map[string]bool{}
	for i := range 100 {
		resp := ask(t, s, "udp", fmt.Sprintf("d%d.bench", i), dns.TypeMX)
		targets[resp.Answer[0].(*dns.MX).Mx] = true
	}
	if len(targets) != 4 {
		t.Errorf("100 domains use %d MX hosts, want 4: %v", len(targets), targets)
	}
	for mx := range targets {
		resp := ask(t, s, "udp", mx, dns.TypeA)
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != sink.String() {
			t.Errorf("A %s = %v, want %s", mx, resp.Answer, sink)
		}
	}
	if resp := ask(t, s, "udp", "real.bench", dns.TypeMX); resp.Answer[0].(*dns.MX).Mx != "elsewhere.example." {
		t.Errorf("explicit records must beat synthetic ones: %v", resp.Answer)
	}

	resp := ask(t, s, "udp", "shop.test", dns.TypeMX)
	if mx := resp.Answer[0].(*dns.MX).Mx; mx != "mx.shop.test." {
		t.Errorf("simple mode MX %s, want mx.shop.test.", mx)
	}
	if resp := ask(t, s, "udp", "mx.shop.test", dns.TypeAAAA); len(resp.Answer) != 1 {
		t.Errorf("simple mode AAAA %v, want ::1", resp.Answer)
	}
	if resp := ask(t, s, "udp", "test", dns.TypeMX); resp.Rcode != dns.RcodeNameError {
		t.Errorf("the suffix itself: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
}

func TestServer_Delay_HoldsAnswerAndCloseCutsItShort(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.SetMX("slow.test", time.Minute, MX{"mx.slow.test", 10})
	s.SetDelay("slow.test", time.Hour)

	m := new(dns.Msg)
	m.SetQuestion("slow.test.", dns.TypeMX)
	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	if _, _, err := c.Exchange(m, s.Addr()); err == nil {
		t.Error("a delayed answer arrived before the client's timeout")
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a delayed query pending", d)
	}
}
