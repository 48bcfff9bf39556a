package api

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// vmtasService is the Vmtas service over Options.Admin.
type vmtasService struct {
	pb.UnimplementedVmtasServer
	s *Server
}

func (v *vmtasService) ListVmtas(ctx context.Context, _ *pb.ListVmtasRequest) (*pb.ListVmtasResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	vs := v.s.opts.Admin.VMTAs()
	out := &pb.ListVmtasResponse{Vmtas: make([]*pb.Vmta, 0, len(vs))}
	for _, vi := range vs {
		out.Vmtas = append(out.Vmtas, vmtaOf(vi))
	}
	return out, nil
}

func (v *vmtasService) DisableVmta(ctx context.Context, r *pb.DisableVmtaRequest) (*pb.Vmta, error) {
	return v.setDisabled(ctx, r.GetName(), true)
}

func (v *vmtasService) EnableVmta(ctx context.Context, r *pb.EnableVmtaRequest) (*pb.Vmta, error) {
	return v.setDisabled(ctx, r.GetName(), false)
}

// setDisabled switches vmta name and returns it as it now is.
func (v *vmtasService) setDisabled(ctx context.Context, name string, disabled bool) (*pb.Vmta, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, badField("name", "name is required")
	}
	if err := v.s.opts.Admin.SetVMTADisabled(name, disabled); err != nil {
		if errors.Is(err, engine.ErrUnknownVMTA) {
			return nil, notFound("vmta", name)
		}
		return nil, status.Errorf(codes.Internal, "vmta %q: %v", name, err)
	}
	v.s.opts.Logger.Info("vmta switched through the API", "key", k.Name, "vmta", name, "disabled", disabled)
	for _, vi := range v.s.opts.Admin.VMTAs() {
		if vi.Name == name {
			return vmtaOf(vi), nil
		}
	}
	// NB: a reload may remove the vmta between the two calls.
	return nil, notFound("vmta", name)
}

func vmtaOf(vi engine.VMTAInfo) *pb.Vmta {
	return &pb.Vmta{Name: vi.Name, SourceIp: vi.SourceIP, Helo: vi.HELO, Disabled: vi.Disabled, Removed: vi.Removed,
		QueuedRecipients: vi.Queued}
}

// notFound is a NotFound status naming the resource, in the message and
// in a google.rpc.ResourceInfo detail.
func notFound(kind, name string) error {
	st := status.Newf(codes.NotFound, "%s %q not found", kind, name)
	if d, err := st.WithDetails(&errdetails.ResourceInfo{ResourceType: kind, ResourceName: name}); err == nil {
		st = d
	}
	return st.Err()
}

// poolsService is the Pools service over Options.Admin.
type poolsService struct {
	pb.UnimplementedPoolsServer
	s *Server
}

func (p *poolsService) ListPools(ctx context.Context, _ *pb.ListPoolsRequest) (*pb.ListPoolsResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	ps := p.s.opts.Admin.Pools()
	out := &pb.ListPoolsResponse{Pools: make([]*pb.Pool, 0, len(ps))}
	for _, pi := range ps {
		pp := &pb.Pool{Name: pi.Name}
		for _, m := range pi.Members {
			pp.Members = append(pp.Members, &pb.PoolMember{Vmta: m.VMTA, Weight: int32(m.Weight)})
		}
		out.Pools = append(out.Pools, pp)
	}
	return out, nil
}
