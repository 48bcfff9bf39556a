package api

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// PutVmta, DeleteVmta, PutPool and DeletePool: the vmtas and pools defined
// through the API (engine/dynamic.go keeps them).

func (v *vmtasService) PutVmta(ctx context.Context, r *pb.PutVmtaRequest) (*pb.Vmta, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetName() == "" {
		return nil, badField("name", "name is required")
	}
	c := configs.VMTA{Name: r.GetName(), SourceIP: r.GetSourceIp(), HELO: r.GetHelo(), Disabled: r.GetDisabled()}
	if err := v.s.opts.Admin.UpsertVMTA(ctx, c); err != nil {
		return nil, configStatus("vmta", r.GetName(), err)
	}
	v.s.opts.Logger.Info("vmta defined through the API", "key", k.Name, "vmta", c.Name, "source_ip", c.SourceIP)
	for _, vi := range v.s.opts.Admin.VMTAs() {
		if vi.Name == c.Name {
			return vmtaOf(vi), nil
		}
	}
	return nil, notFound("vmta", c.Name) // NB: a concurrent delete
}

func (v *vmtasService) DeleteVmta(ctx context.Context, r *pb.DeleteVmtaRequest) (*pb.DeleteVmtaResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetName() == "" {
		return nil, badField("name", "name is required")
	}
	if err := v.s.opts.Admin.DeleteVMTA(ctx, r.GetName()); err != nil {
		return nil, configStatus("vmta", r.GetName(), err)
	}
	v.s.opts.Logger.Info("vmta deleted through the API", "key", k.Name, "vmta", r.GetName())
	return &pb.DeleteVmtaResponse{}, nil
}

func (p *poolsService) PutPool(ctx context.Context, r *pb.PutPoolRequest) (*pb.Pool, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetName() == "" {
		return nil, badField("name", "name is required")
	}
	c := configs.Pool{Name: r.GetName()}
	for _, m := range r.GetMembers() {
		c.Members = append(c.Members, configs.PoolMember{VMTA: m.GetVmta(), Weight: int(m.GetWeight())})
	}
	if err := p.s.opts.Admin.UpsertPool(ctx, c); err != nil {
		return nil, configStatus("pool", r.GetName(), err)
	}
	p.s.opts.Logger.Info("pool defined through the API", "key", k.Name, "pool", c.Name, "members", len(c.Members))
	for _, pi := range p.s.opts.Admin.Pools() {
		if pi.Name == c.Name {
			out := &pb.Pool{Name: pi.Name}
			for _, m := range pi.Members {
				out.Members = append(out.Members, &pb.PoolMember{Vmta: m.VMTA, Weight: int32(m.Weight)})
			}
			return out, nil
		}
	}
	return nil, notFound("pool", c.Name) // NB: a concurrent delete
}

func (p *poolsService) DeletePool(ctx context.Context, r *pb.DeletePoolRequest) (*pb.DeletePoolResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetName() == "" {
		return nil, badField("name", "name is required")
	}
	if err := p.s.opts.Admin.DeletePool(ctx, r.GetName()); err != nil {
		return nil, configStatus("pool", r.GetName(), err)
	}
	p.s.opts.Logger.Info("pool deleted through the API", "key", k.Name, "pool", r.GetName())
	return &pb.DeletePoolResponse{}, nil
}

// itemKey matches the item part of a configuration key: "vmtas[3]." or
// "pools[0]." before the field.
var itemKey = regexp.MustCompile(`^(vmtas|pools)\[\d+\]\.?`)

// configStatus maps an engine error of a vmta or pool change to a status.
func configStatus(kind, name string, err error) error {
	switch {
	case errors.Is(err, engine.ErrInvalidConfig):
		var ce *configs.Error
		field := kind
		if errors.As(err, &ce) && ce.Key != "" {
			if f := itemKey.ReplaceAllString(ce.Key, ""); f != "" && itemKey.MatchString(ce.Key) {
				field = f
			} else {
				field = ce.Key
			}
		}
		return badField(field, "%s", invalidMsg(err))
	case errors.Is(err, engine.ErrDefinedInFile):
		return status.Errorf(codes.FailedPrecondition, "%s %q is defined in the configuration file: remove it there", kind, name)
	case errors.Is(err, engine.ErrUnknownVMTA) && kind == "vmta", errors.Is(err, engine.ErrUnknownPool) && kind == "pool":
		return notFound(kind, name)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "%s %q: %v", kind, name, err)
}

// invalidMsg is the configuration error's own message, without the
// engine's wrapping.
func invalidMsg(err error) string {
	var ce *configs.Error
	if errors.As(err, &ce) && ce.Msg != "" {
		return strings.TrimPrefix(ce.Msg, ce.Key+": ")
	}
	return err.Error()
}
