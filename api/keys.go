package api

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// KeyStore keeps the API keys created through the API (the engine backs it
// with the spool). Records are the JSON of Key, hash included, never the key.
type KeyStore interface {
	PutKeyRecord(name string, data []byte) error
	DeleteKeyRecord(name string) error
	// KeyRecords returns every stored record by key name.
	KeyRecords() (map[string][]byte, error)
}

var _ KeyStore = engine.APIKeyStore{}

// keysService is the Keys service over Options.KeyStore.
type keysService struct {
	pb.UnimplementedKeysServer
	s  *Server
	mu sync.Mutex // serialises changes; readers use the authenticator's snapshot
}

// loadKeys reads the stored keys into the authenticator.
func (s *Server) loadKeys() error {
	recs, err := s.opts.KeyStore.KeyRecords()
	if err != nil {
		return fmt.Errorf("api: load stored API keys: %w", err)
	}
	dyn := make(map[string]*Key, len(recs))
	for name, b := range recs {
		var k Key
		if err := json.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("api: stored API key %q: %w", name, err)
		}
		dyn[k.Hash] = &k
	}
	s.auth.dynamic.Store(&dyn)
	return nil
}

func (ks *keysService) CreateKey(ctx context.Context, r *pb.CreateKeyRequest) (*pb.CreateKeyResponse, error) {
	who, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	plain, hash := NewKey()
	k := Key{Name: strings.TrimSpace(r.GetName()), Hash: hash, Role: Role(r.GetRole()),
		SenderDomains: r.GetSenderDomains(), Pools: r.GetPools()}
	if err := k.validate(); err != nil {
		return nil, badField(keyField(err), "%v", err)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.named(k.Name) != "" {
		return nil, status.Errorf(codes.AlreadyExists, "an API key named %q exists", k.Name)
	}
	b, _ := json.Marshal(k)
	if err := ks.s.opts.KeyStore.PutKeyRecord(k.Name, b); err != nil {
		return nil, status.Errorf(codes.Unavailable, "store the key: %v", err)
	}
	if err := ks.s.loadKeys(); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	ks.s.opts.Logger.Info("API key created", "name", k.Name, "role", k.Role, "by", who.Name)
	return &pb.CreateKeyResponse{Name: k.Name, Key: plain}, nil
}

// named returns "config" or "api" when a key of that name exists, else "".
func (ks *keysService) named(name string) string {
	for _, k := range ks.s.opts.Keys {
		if k.Name == name {
			return "config"
		}
	}
	if dyn := ks.s.auth.dynamic.Load(); dyn != nil {
		for _, k := range *dyn {
			if k.Name == name {
				return "api"
			}
		}
	}
	return ""
}

func (ks *keysService) ListKeys(ctx context.Context, _ *pb.ListKeysRequest) (*pb.ListKeysResponse, error) {
	if _, err := authorize(ctx, RoleAdmin); err != nil {
		return nil, err
	}
	out := &pb.ListKeysResponse{}
	add := func(k *Key, source string) {
		out.Keys = append(out.Keys, &pb.ApiKey{Name: k.Name, Role: string(k.Role), SenderDomains: k.SenderDomains,
			Pools: k.Pools, Source: source})
	}
	for i := range ks.s.opts.Keys {
		add(&ks.s.opts.Keys[i], "config")
	}
	if dyn := ks.s.auth.dynamic.Load(); dyn != nil {
		for _, k := range *dyn {
			add(k, "api")
		}
	}
	sort.Slice(out.Keys, func(i, j int) bool { return out.Keys[i].Name < out.Keys[j].Name })
	return out, nil
}

func (ks *keysService) DeleteKey(ctx context.Context, r *pb.DeleteKeyRequest) (*pb.DeleteKeyResponse, error) {
	who, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	switch ks.named(r.GetName()) {
	case "":
		return nil, status.Errorf(codes.NotFound, "no API key named %q", r.GetName())
	case "config":
		return nil, status.Errorf(codes.FailedPrecondition, "API key %q is defined in the configuration file: remove it there", r.GetName())
	}
	if err := ks.s.opts.KeyStore.DeleteKeyRecord(r.GetName()); err != nil {
		return nil, status.Errorf(codes.Unavailable, "delete the key: %v", err)
	}
	if err := ks.s.loadKeys(); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	ks.s.opts.Logger.Info("API key deleted", "name", r.GetName(), "by", who.Name)
	return &pb.DeleteKeyResponse{}, nil
}

// keyField guesses the request field a key validation error is about.
func keyField(err error) string {
	msg := err.Error()
	for _, f := range []string{"name", "role", "sender_domains", "pools"} {
		if strings.Contains(msg, f) {
			return f
		}
	}
	return "name"
}
