package vmta

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// fakeResolver answers from maps; a missing key is NXDOMAIN.
type fakeResolver struct {
	ptr  map[string][]string
	addr map[string][]netip.Addr
	err  error // returned by every lookup when set
}

func (f fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	if n, ok := f.ptr[addr]; ok {
		return n, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
}

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if f.err != nil {
		return nil, f.err
	}
	if a, ok := f.addr[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestCheckFCrDNS(t *testing.T) {
	v := VMTA{Name: "ip2", SourceIP: netip.MustParseAddr("192.0.2.2"), HELO: "mta2.example.test"}
	ip := v.SourceIP
	tests := []struct {
		name     string
		r        fakeResolver
		wantErr  []string // substrings; nil = no error
		wantSent bool     // error wraps ErrFCrDNS
	}{
		{"PTR and A both confirm", fakeResolver{
			ptr:  map[string][]string{"192.0.2.2": {"other.example.", "MTA2.example.test."}},
			addr: map[string][]netip.Addr{"mta2.example.test": {netip.MustParseAddr("2001:db8::2"), ip}},
		}, nil, false},
		{"PTR names another host", fakeResolver{
			ptr:  map[string][]string{"192.0.2.2": {"mail.example.net."}},
			addr: map[string][]netip.Addr{"mta2.example.test": {ip}},
		}, []string{"vmta ip2: forward-confirmed", "PTR of 192.0.2.2 is [mail.example.net.], not the HELO mta2.example.test"}, true},
		{"HELO resolves to another address", fakeResolver{
			ptr:  map[string][]string{"192.0.2.2": {"mta2.example.test"}},
			addr: map[string][]netip.Addr{"mta2.example.test": {netip.MustParseAddr("192.0.2.7")}},
		}, []string{"mta2.example.test resolves to [192.0.2.7], not 192.0.2.2"}, true},
		{"no PTR and no A reports both", fakeResolver{},
			[]string{"PTR of 192.0.2.2 is []", "; mta2.example.test resolves to []"}, true},
		{"resolver failure is not a mismatch", fakeResolver{err: &net.DNSError{Err: "server misbehaving", IsTemporary: true}},
			[]string{"vmta ip2: PTR lookup of 192.0.2.2: lookup : server misbehaving"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.CheckFCrDNS(context.Background(), tt.r)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckFCrDNS() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckFCrDNS() = nil, want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if errors.Is(err, ErrFCrDNS) != tt.wantSent {
				t.Errorf("errors.Is(err, ErrFCrDNS) = %v, want %v", !tt.wantSent, tt.wantSent)
			}
		})
	}
}
