package vmta

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestValidate_Table(t *testing.T) {
	ok := VMTA{Name: "ip2", SourceIP: netip.MustParseAddr("127.0.0.2"), HELO: "mta2.example.test"}
	tests := []struct {
		name    string
		edit    func(v *VMTA)
		wantErr string // "" = valid
	}{
		{"valid v4", func(v *VMTA) {}, ""},
		{"valid v6", func(v *VMTA) { v.SourceIP = netip.MustParseAddr("2001:db8::10") }, ""},
		{"name with dot dash underscore", func(v *VMTA) { v.Name = "ip-2.a_b" }, ""},
		{"empty name", func(v *VMTA) { v.Name = "" }, "name: invalid vmta: required"},
		{"name with slash", func(v *VMTA) { v.Name = "a/b" }, "not allowed"},
		{"name too long", func(v *VMTA) { v.Name = strings.Repeat("a", MaxNameLen+1) }, "longer than"},
		{"missing source ip", func(v *VMTA) { v.SourceIP = netip.Addr{} }, "vmta ip2: source_ip: invalid vmta: required"},
		{"unspecified source ip", func(v *VMTA) { v.SourceIP = netip.IPv4Unspecified() }, "unspecified"},
		{"v4-mapped v6 source ip", func(v *VMTA) { v.SourceIP = netip.MustParseAddr("::ffff:192.0.2.1") }, "write it as 192.0.2.1"},
		{"multicast source ip", func(v *VMTA) { v.SourceIP = netip.MustParseAddr("224.0.0.1") }, "not a unicast"},
		{"missing helo", func(v *VMTA) { v.HELO = "" }, "helo \"\": invalid vmta: required"},
		{"single-label helo", func(v *VMTA) { v.HELO = "localhost" }, "fully qualified"},
		{"helo with underscore", func(v *VMTA) { v.HELO = "mta_2.example.test" }, "not allowed"},
		{"helo label ends with dash", func(v *VMTA) { v.HELO = "mta-.example.test" }, "starts or ends"},
		{"helo trailing dot", func(v *VMTA) { v.HELO = "mta2.example.test." }, "empty or over-long label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ok
			tt.edit(&v)
			err := v.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNew_ParsesConfig(t *testing.T) {
	v, err := New(Config{Name: "ip3", SourceIP: " 127.0.0.3 ", HELO: "mta3.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if v.SourceIP != netip.MustParseAddr("127.0.0.3") || v.Name != "ip3" || v.HELO != "mta3.example.test" {
		t.Fatalf("New = %+v", v)
	}
	_, err = New(Config{Name: "ip3", SourceIP: "127.0.0.300", HELO: "mta3.example.test"})
	if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "vmta ip3: source_ip") {
		t.Fatalf("New with a bad IP = %v", err)
	}
}

func TestCheckBindable_LoopbackAlias_Succeeds(t *testing.T) {
	v := VMTA{Name: "ip2", SourceIP: netip.MustParseAddr("127.0.0.2"), HELO: "mta2.example.test"}
	if err := v.CheckBindable(); err != nil {
		t.Fatalf("CheckBindable() = %v", err)
	}
}

func TestCheckBindable_AddressNotOnHost_FailsNamingVMTA(t *testing.T) {
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind"); strings.TrimSpace(string(b)) == "1" {
		t.Skip("ip_nonlocal_bind is set: any address binds")
	}
	v := VMTA{Name: "ip9", SourceIP: netip.MustParseAddr("192.0.2.55"), HELO: "mta9.example.test"}
	err := v.CheckBindable()
	want := "vmta ip9: source IP 192.0.2.55 is not configured on this host: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("CheckBindable() = %v, want prefix %q", err, want)
	}
}

func TestDialer_ConnectionLeavesFromSourceIP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- nil
			return
		}
		peer <- c.RemoteAddr()
		c.Close()
	}()

	v := VMTA{Name: "ip3", SourceIP: netip.MustParseAddr("127.0.0.3"), HELO: "mta3.example.test"}
	d := v.Dialer(2 * time.Second)
	if d.Timeout != 2*time.Second {
		t.Errorf("Timeout = %v", d.Timeout)
	}
	c, err := d.Dial(v.Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := (<-peer).(*net.TCPAddr).AddrPort().Addr()
	if got != v.SourceIP {
		t.Fatalf("listener saw peer %s, want %s", got, v.SourceIP)
	}
}

func TestNetwork_MatchesFamily(t *testing.T) {
	for ip, want := range map[string]string{"127.0.0.2": "tcp4", "2001:db8::1": "tcp6"} {
		v := VMTA{SourceIP: netip.MustParseAddr(ip)}
		if got := v.Network(); got != want {
			t.Errorf("Network() for %s = %s, want %s", ip, got, want)
		}
	}
}
