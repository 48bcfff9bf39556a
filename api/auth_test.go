package api

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// authCases are shared by the gRPC and REST auth tests.
var authCases = []struct {
	name   string
	authz  string // the authorization value; "" sends none
	from   string
	pool   string
	code   codes.Code
	queued bool
}{
	{"no key", "", "a@shop.example", "", codes.Unauthenticated, false},
	{"wrong key", "Bearer sluice_nope", "a@shop.example", "", codes.Unauthenticated, false},
	{"not bearer", "Basic " + keyInject, "a@shop.example", "", codes.Unauthenticated, false},
	{"read role", "Bearer " + keyRead, "a@shop.example", "", codes.PermissionDenied, false},
	{"inject role", "Bearer " + keyInject, "a@other.example", "", codes.OK, true},
	{"admin role", "Bearer " + keyAdmin, "a@other.example", "", codes.OK, true},
	{"sender domain allowed", "Bearer " + keyRestricted, "a@SHOP.example", "marketing", codes.OK, true},
	{"sender domain outside", "Bearer " + keyRestricted, "a@other.example", "marketing", codes.PermissionDenied, false},
	{"null sender restricted", "Bearer " + keyRestricted, "", "marketing", codes.PermissionDenied, false},
	{"pool outside", "Bearer " + keyRestricted, "a@shop.example", "transactional", codes.PermissionDenied, false},
	{"pool missing", "Bearer " + keyRestricted, "a@shop.example", "", codes.PermissionDenied, false},
}

func TestAuth_GRPC(t *testing.T) {
	for _, tc := range authCases {
		t.Run(tc.name, func(t *testing.T) {
			env := testServer(t, nil, nil)
			ctx := context.Background()
			if tc.authz != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.authz)
			}
			_, err := env.client.Inject(ctx, &pb.InjectRequest{From: tc.from, Pool: tc.pool, Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}})
			wantStatus(t, err, tc.code, "")
			if got := len(env.sub.submissions()) == 1; got != tc.queued {
				t.Fatalf("queued = %v, want %v", got, tc.queued)
			}
			if tc.code != codes.Unauthenticated && tc.name != "read role" {
				return // the rest are per-message checks, the same code as Inject's
			}
			// The stream checks the key before reading anything.
			stream, err := env.client.InjectStream(ctx)
			if err == nil {
				_, err = stream.Recv()
			}
			wantStatus(t, err, tc.code, "")
		})
	}
}

func TestAuth_Loopback_WithoutKeyOnlyWhenAllowed(t *testing.T) {
	env := testServer(t, nil, func(o *Options) { o.AllowLoopbackWithoutKey = true })
	req := &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}
	if _, err := env.client.Inject(context.Background(), req); err != nil {
		t.Fatalf("keyless loopback call: %v", err)
	}
	// A key that is sent is checked even from loopback.
	_, err := env.client.Inject(withKey("sluice_wrong"), req)
	wantStatus(t, err, codes.Unauthenticated, "")
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "127.9.9.9:1": true, "[::1]:1": true, "[::ffff:127.0.0.1]:1": true, "10.0.0.1:1": false, "[2001:db8::1]:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(a); got != want {
			t.Errorf("isLoopback(%s) = %v", addr, got)
		}
	}
	if isLoopback(nil) {
		t.Error("isLoopback(nil)")
	}
}

func TestKeys_NewKeyHashes_AndValidation(t *testing.T) {
	plain, hash := NewKey()
	if !strings.HasPrefix(plain, "sluice_") || len(plain) < 40 || hash != HashKey(plain) || !strings.HasPrefix(hash, "sha256:") {
		t.Fatalf("NewKey() = %q, %q", plain, hash)
	}
	if p2, _ := NewKey(); p2 == plain {
		t.Fatal("NewKey repeated itself")
	}
	bad := []Key{
		{Name: "", Hash: hash, Role: RoleInject},
		{Name: "k", Hash: "$2a$10$abcdefghijklmnopqrstuv", Role: RoleInject},
		{Name: "k", Hash: strings.ToUpper(hash), Role: RoleInject},
		{Name: "k", Hash: hash, Role: "root"},
	}
	for _, k := range bad {
		if _, err := New(Options{Submitter: &fakeSubmitter{}, Keys: []Key{k}}); err == nil {
			t.Errorf("key %+v accepted", k)
		}
	}
	dup := []Key{{Name: "k", Hash: hash, Role: RoleInject}, {Name: "k", Hash: HashKey("x"), Role: RoleRead}}
	if _, err := New(Options{Submitter: &fakeSubmitter{}, Keys: dup}); err == nil {
		t.Error("duplicate key names accepted")
	}
}
