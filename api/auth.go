package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Role is what a key may do.
type Role string

// Roles. admin may do everything; inject may inject mail; read may read
// queues, stats and events (with their issue).
const (
	RoleInject Role = "inject"
	RoleAdmin  Role = "admin"
	RoleRead   Role = "read"
)

// allows reports whether a key with role r may call an RPC that needs need.
func (r Role) allows(need Role) bool { return r == need || r == RoleAdmin }

// Key is an API key as configured: only its hash is stored.
type Key struct {
	// Name identifies the key in logs and scopes its idempotency keys.
	Name string
	// Hash is HashKey(key): "sha256:" and 64 hex digits. A key is 256
	// random bits (NewKey), so a fast hash is as safe as bcrypt against
	// guessing and costs microseconds per request instead of ~50 ms.
	Hash string
	// Role is inject, admin or read.
	Role Role
	// SenderDomains, when not empty, are the only envelope sender domains
	// the key may use (compared case-insensitively); "*" allows any sender,
	// including the null sender, which no other entry allows.
	SenderDomains []string
	// Pools, when not empty, are the only pools the key may name; a request
	// must then name one.
	Pools []string
}

const hashPrefix = "sha256:"

// keyPrefix marks Sluice API keys, so that secret scanners can find them.
const keyPrefix = "sluice_"

// HashKey returns the stored form of an API key: "sha256:<hex>".
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// NewKey returns a new random API key (256 bits, "sluice_" + base64url) and
// its hash for the configuration. The plain key is shown once, never stored.
func NewKey() (plain, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("api: crypto/rand failed: " + err.Error()) // never returns an error on Linux
	}
	plain = keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return plain, HashKey(plain)
}

func (k *Key) validate() error {
	if k.Name == "" {
		return fmt.Errorf("name is required")
	}
	h, ok := strings.CutPrefix(k.Hash, hashPrefix)
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return fmt.Errorf("key %q: key_hash must be %q and 64 lowercase hex digits (sluice api-key new)", k.Name, hashPrefix)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("key %q: key_hash: %v", k.Name, err)
	}
	switch k.Role {
	case RoleInject, RoleAdmin, RoleRead:
	default:
		return fmt.Errorf("key %q: role %q: want inject, admin or read", k.Name, k.Role)
	}
	return nil
}

// senderAllowed reports whether k may use the envelope sender from.
func (k *Key) senderAllowed(from string) bool {
	if len(k.SenderDomains) == 0 {
		return true
	}
	domain := ""
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	for _, d := range k.SenderDomains {
		if d == "*" || (domain != "" && strings.EqualFold(d, domain)) {
			return true
		}
	}
	return false
}

// poolAllowed reports whether k may use pool.
func (k *Key) poolAllowed(pool string) bool {
	return len(k.Pools) == 0 || slices.Contains(k.Pools, pool)
}

// loopbackKey is the principal of a keyless loopback client.
var loopbackKey = &Key{Name: "loopback", Role: RoleAdmin}

// authenticator maps a presented key to its configured Key.
type authenticator struct {
	byHash        map[string]*Key // the configuration file's keys; fixed
	allowLoopback bool
	// dynamic are the keys created through the API, by hash; replaced whole
	// on every change, read without a lock.
	dynamic atomic.Pointer[map[string]*Key]
}

func newAuthenticator(keys []Key, allowLoopback bool) *authenticator {
	a := &authenticator{byHash: make(map[string]*Key, len(keys)), allowLoopback: allowLoopback}
	for i := range keys {
		a.byHash[keys[i].Hash] = &keys[i]
	}
	return a
}

// authenticate checks an authorization value ("Bearer <key>", or "" when
// none was sent) from a client at remote. The error is a status error
// (Unauthenticated).
func (a *authenticator) authenticate(authorization string, remote net.Addr) (*Key, error) {
	if authorization == "" {
		if a.allowLoopback && isLoopback(remote) {
			return loopbackKey, nil
		}
		return nil, status.Error(codes.Unauthenticated, "missing API key: send the header `authorization: Bearer <key>`")
	}
	scheme, key, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return nil, status.Error(codes.Unauthenticated, "malformed authorization: want `Bearer <key>`")
	}
	// NB: a map lookup by the key's SHA-256 leaks nothing useful through
	// timing: finding a hash prefix does not help find a 256-bit preimage.
	h := HashKey(strings.TrimSpace(key))
	k, ok := a.byHash[h]
	if !ok {
		if dyn := a.dynamic.Load(); dyn != nil {
			k, ok = (*dyn)[h]
		}
	}
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "unknown API key")
	}
	return k, nil
}

func isLoopback(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return false
		}
	}
	return ap.Addr().Unmap().IsLoopback()
}

type principalKey struct{}

// withPrincipal returns ctx carrying the authenticated key.
func withPrincipal(ctx context.Context, k *Key) context.Context {
	return context.WithValue(ctx, principalKey{}, k)
}

// authorize returns the caller's key if it has the role need. It fails
// closed: a context that no interceptor or middleware authenticated is
// Unauthenticated.
func authorize(ctx context.Context, need Role) (*Key, error) {
	k, _ := ctx.Value(principalKey{}).(*Key)
	if k == nil {
		return nil, status.Error(codes.Unauthenticated, "not authenticated")
	}
	if !k.Role.allows(need) {
		return nil, status.Errorf(codes.PermissionDenied, "API key %q has role %q; this call needs %q", k.Name, k.Role, need)
	}
	return k, nil
}

// fromGRPC authenticates the caller of a gRPC call.
func (a *authenticator) fromGRPC(ctx context.Context) (context.Context, error) {
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	var remote net.Addr
	if p, ok := peer.FromContext(ctx); ok {
		remote = p.Addr
	}
	k, err := a.authenticate(authz, remote)
	if err != nil {
		return nil, err
	}
	return withPrincipal(ctx, k), nil
}

// unaryInterceptor authenticates every unary call; handlers then check
// the role with authorize.
func (a *authenticator) unaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.fromGRPC(ctx)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// streamInterceptor authenticates every streaming call.
func (a *authenticator) streamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.fromGRPC(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }
