package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// Limits of the Suppressions service.
const (
	defaultSuppressionPage = 100
	maxSuppressionPage     = 1000
	maxSuppressionEntries  = 10000
)

// suppressionsService is the Suppressions service over Options.Admin.
type suppressionsService struct {
	pb.UnimplementedSuppressionsServer
	s *Server
}

// A page token is base64url("<scope>\x00<address>") of the page's last
// entry: the list is sorted by scope then address, and the engine's cursor
// is an address within one scope.

func pageToken(en engine.SuppressionEntry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(en.Scope + "\x00" + en.Address))
}

func parsePageToken(tok string) (scope, addr string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", "", err
	}
	scope, addr, ok := strings.Cut(string(b), "\x00")
	if !ok || addr == "" {
		return "", "", fmt.Errorf("not a page token of this listing")
	}
	return scope, addr, nil
}

func (s *suppressionsService) ListSuppressions(ctx context.Context, r *pb.ListSuppressionsRequest) (*pb.ListSuppressionsResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	size := int(r.GetPageSize())
	switch {
	case size < 0:
		return nil, badField("page_size", "page_size must not be negative")
	case size == 0:
		size = defaultSuppressionPage
	case size > maxSuppressionPage:
		size = maxSuppressionPage
	}
	all := r.Scope == nil || r.GetScope() == "*"
	scope := strings.ToLower(strings.TrimSpace(r.GetScope()))
	var afterScope, after string
	if tok := r.GetPageToken(); tok != "" {
		var err error
		if afterScope, after, err = parsePageToken(tok); err != nil || (!all && afterScope != scope) {
			return nil, badField("page_token", "page_token is not one this listing returned")
		}
	}
	if all {
		scope = "*"
		if after != "" {
			after = engine.SuppressionCursor(engine.SuppressionEntry{Scope: afterScope, Address: after})
		}
	}
	ens := s.s.opts.Admin.Suppressions(scope, after, size+1)
	out := &pb.ListSuppressionsResponse{Suppressions: make([]*pb.Suppression, 0, min(len(ens), size))}
	for i, en := range ens {
		if i == size {
			out.NextPageToken = pageToken(ens[i-1])
			break
		}
		out.Suppressions = append(out.Suppressions, &pb.Suppression{Address: en.Address, Scope: en.Scope,
			Reason: en.Reason, Source: en.Source, CreatedAt: timestampOrNil(en.At)})
	}
	return out, nil
}

func (s *suppressionsService) AddSuppressions(ctx context.Context, r *pb.AddSuppressionsRequest) (*pb.AddSuppressionsResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	switch n := len(r.GetEntries()); {
	case n == 0:
		return nil, badField("entries", "at least one entry is required")
	case n > maxSuppressionEntries:
		return nil, badField("entries", "%d entries: at most %d per call (or ImportSuppressions)", n, maxSuppressionEntries)
	}
	var vs []violation
	ens := make([]engine.SuppressionEntry, 0, len(r.GetEntries()))
	for i, e := range r.GetEntries() {
		addr := feedback.NormalizeAddress(e.GetAddress())
		if err := checkAddress(addr); err != nil {
			vs = append(vs, violation{fmt.Sprintf("entries[%d].address", i), err.Error()})
		}
		if err := checkScope(e.GetScope()); err != nil {
			vs = append(vs, violation{fmt.Sprintf("entries[%d].scope", i), err.Error()})
		}
		reason := e.GetReason()
		if reason == "" {
			reason = "manual"
		}
		ens = append(ens, engine.SuppressionEntry{Address: addr, Scope: e.GetScope(), Reason: reason, Source: "api key " + k.Name})
	}
	if len(vs) > 0 {
		return nil, invalid(vs...)
	}
	n, err := s.s.opts.Admin.Suppress(ens...)
	if err != nil {
		return nil, changeStatus(err, "entries")
	}
	s.s.opts.Logger.Info("suppressions added through the API", "key", k.Name, "entries", len(ens), "new", n)
	return &pb.AddSuppressionsResponse{Added: int32(n)}, nil
}

func (s *suppressionsService) DeleteSuppression(ctx context.Context, r *pb.DeleteSuppressionRequest) (*pb.DeleteSuppressionResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	addr := feedback.NormalizeAddress(r.GetAddress())
	var vs []violation
	if err := checkAddress(addr); err != nil {
		vs = append(vs, violation{"address", err.Error()})
	}
	if err := checkScope(r.GetScope()); err != nil {
		vs = append(vs, violation{"scope", err.Error()})
	}
	if len(vs) > 0 {
		return nil, invalid(vs...)
	}
	ok, err := s.s.opts.Admin.Unsuppress(r.GetScope(), addr)
	if err != nil {
		return nil, changeStatus(err, "address")
	}
	if !ok {
		where := "globally"
		if sc := strings.ToLower(strings.TrimSpace(r.GetScope())); sc != "" {
			where = fmt.Sprintf("in scope %q", sc)
		}
		return nil, notFoundMsg("suppression", addr, fmt.Sprintf("%q is not suppressed %s", addr, where))
	}
	s.s.opts.Logger.Info("suppression lifted through the API", "key", k.Name, "address", addr, "scope", r.GetScope())
	return &pb.DeleteSuppressionResponse{}, nil
}

func (s *suppressionsService) ImportSuppressions(ctx context.Context, r *pb.ImportSuppressionsRequest) (*pb.AddSuppressionsResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	var vs []violation
	if strings.TrimSpace(r.GetCsv()) == "" {
		vs = append(vs, violation{"csv", "csv is required: rows address[,scope[,reason]]"})
	}
	if err := checkScope(r.GetScope()); err != nil {
		vs = append(vs, violation{"scope", err.Error()})
	}
	if len(vs) > 0 {
		return nil, invalid(vs...)
	}
	reason := r.GetReason()
	if reason == "" {
		reason = "import"
	}
	n, err := s.s.opts.Admin.ImportSuppressions(strings.NewReader(r.GetCsv()), r.GetScope(), reason, "api key "+k.Name+" import")
	if errors.Is(err, engine.ErrInvalidEnvelope) {
		return nil, badField("csv", "%s", strings.TrimPrefix(strings.TrimPrefix(cause(err), "csv: "), "csv "))
	} else if err != nil {
		return nil, changeStatus(err, "csv")
	}
	s.s.opts.Logger.Info("suppressions imported through the API", "key", k.Name, "new", n)
	return &pb.AddSuppressionsResponse{Added: int32(n)}, nil
}

// checkScope refuses "*", which means every scope only when listing.
func checkScope(scope string) error {
	if strings.TrimSpace(scope) == "*" {
		return errors.New(`"*" is not a scope: use "" for every sender, or a sender domain or tenant`)
	}
	return nil
}

// changeStatus maps an error of a suppression-list change: bad input on
// field, a full disk, or the spool failing.
func changeStatus(err error, field string) error {
	switch {
	case errors.Is(err, engine.ErrInvalidEnvelope):
		return badField(field, "%s", cause(err))
	case errors.Is(err, spool.ErrLowSpace):
		return status.Error(codes.ResourceExhausted, "the spool is short of disk space; retry later")
	}
	return status.Errorf(codes.Unavailable, "the change could not be stored; retry later: %v", err)
}
