package sink

import (
	"net"
	"strconv"
	"testing"

	"github.com/miekg/dns"
)

// query asks server for name's records of type qtype and returns the answer.
func query(t *testing.T, server, name string, qtype uint16) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	resp, _, err := new(dns.Client).Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("query %s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode])
	}
	return resp.Answer
}

// mxOf returns the single MX host of domain.
func mxOf(t *testing.T, server, domain string) string {
	t.Helper()
	ans := query(t, server, domain, dns.TypeMX)
	if len(ans) != 1 {
		t.Fatalf("MX %s: %v, want one record", domain, ans)
	}
	return ans[0].(*dns.MX).Mx
}

// aOf returns the single A record of host.
func aOf(t *testing.T, server, host string) string {
	t.Helper()
	ans := query(t, server, host, dns.TypeA)
	if len(ans) != 1 {
		t.Fatalf("A %s: %v, want one record", host, ans)
	}
	return ans[0].(*dns.A).A.String()
}

func TestStartDNS_TestDomainsResolveToSink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sinkAddr string
		mxHosts  int
		wantMX   string
		wantA    string
	}{
		{"one mx per domain", "127.0.0.1:2526", 0, "mx.shop.test.", "127.0.0.1"},
		{"shared mx hosts", "127.0.0.2:2526", 1, "mx0.test.", "127.0.0.2"},
		{"wildcard listener", "[::]:2526", 0, "mx.shop.test.", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinkAddr, err := net.ResolveTCPAddr("tcp", tc.sinkAddr)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := StartDNS("127.0.0.1:0", tc.mxHosts, sinkAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			mx := mxOf(t, srv.Addr(), "shop.test")
			if mx != tc.wantMX {
				t.Errorf("MX shop.test = %s, want %s", mx, tc.wantMX)
			}
			if a := aOf(t, srv.Addr(), mx); a != tc.wantA {
				t.Errorf("A %s = %s, want %s", mx, a, tc.wantA)
			}
		})
	}
}

func TestStartDNS_WithSink_MXReachesTheSink(t *testing.T) {
	s, addr := testSink(t, Config{})
	sinkAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := StartDNS("127.0.0.1:0", 0, sinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	ip := aOf(t, srv.Addr(), mxOf(t, srv.Addr(), "Example.test"))
	if err := send(t, net.JoinHostPort(ip, strconv.Itoa(sinkAddr.Port)), []string{"u@example.test"}, "x\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().ByDomain["example.test"]; n != 1 {
		t.Errorf("delivered to example.test %d, want 1", n)
	}
}

func TestStartDNS_NegativeMXHosts_Error(t *testing.T) {
	if _, err := StartDNS("127.0.0.1:0", -1, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
		t.Error("StartDNS with mxHosts -1 succeeded")
	}
}

func TestStartDNSSpread_MXHostsSpreadOverSinkAddresses(t *testing.T) {
	var addrs []net.Addr
	for _, a := range []string{"127.0.0.2:2526", "127.0.0.3:2526", "127.0.0.4:2526"} {
		ta, _ := net.ResolveTCPAddr("tcp", a)
		addrs = append(addrs, ta)
	}
	srv, err := StartDNSSpread("127.0.0.1:0", 6, addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for k, want := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if a := aOf(t, srv.Addr(), "mx"+strconv.Itoa(k)+".test"); a != want {
			t.Errorf("A mx%d.test = %s, want %s", k, a, want)
		}
	}
	// N domains roll up onto the 6 hosts, and so onto all 3 addresses.
	seen := map[string]bool{}
	for i := range 200 {
		mx := mxOf(t, srv.Addr(), "d"+strconv.Itoa(i)+".test")
		seen[aOf(t, srv.Addr(), mx)] = true
	}
	if len(seen) != 3 {
		t.Errorf("200 domains reach sink addresses %v, want all 3", seen)
	}
	if _, err := StartDNSSpread("127.0.0.1:0", 1, nil); err == nil {
		t.Error("StartDNSSpread with no address succeeded")
	}
}
