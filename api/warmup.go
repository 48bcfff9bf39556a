package api

import (
	"context"
	"errors"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// warmupService is the Warmup service over Options.Admin.
type warmupService struct {
	pb.UnimplementedWarmupServer
	s *Server
}

func (w *warmupService) ListWarmup(ctx context.Context, _ *pb.ListWarmupRequest) (*pb.ListWarmupResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	vs, err := w.s.opts.Admin.WarmupStatus("")
	if err != nil {
		return nil, warmupStatus(err, "", "")
	}
	out := &pb.ListWarmupResponse{Vmtas: make([]*pb.WarmupVmta, 0, len(vs))}
	for _, v := range vs {
		out.Vmtas = append(out.Vmtas, warmupVmtaOf(v))
	}
	return out, nil
}

func (w *warmupService) GetWarmup(ctx context.Context, r *pb.GetWarmupRequest) (*pb.WarmupVmta, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	if r.GetVmta() == "" {
		return nil, badField("vmta", "vmta is required")
	}
	return w.get(r.GetVmta())
}

func (w *warmupService) PauseWarmup(ctx context.Context, r *pb.WarmupControlRequest) (*pb.WarmupVmta, error) {
	return w.control(ctx, engine.WarmupPause, r)
}

func (w *warmupService) ResumeWarmup(ctx context.Context, r *pb.WarmupControlRequest) (*pb.WarmupVmta, error) {
	return w.control(ctx, engine.WarmupResume, r)
}

func (w *warmupService) AdvanceWarmup(ctx context.Context, r *pb.WarmupControlRequest) (*pb.WarmupVmta, error) {
	return w.control(ctx, engine.WarmupAdvance, r)
}

func (w *warmupService) ResetWarmup(ctx context.Context, r *pb.WarmupControlRequest) (*pb.WarmupVmta, error) {
	return w.control(ctx, engine.WarmupReset, r)
}

// control applies op and returns the vmta's status after it.
func (w *warmupService) control(ctx context.Context, op engine.WarmupOp, r *pb.WarmupControlRequest) (*pb.WarmupVmta, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetVmta() == "" {
		return nil, badField("vmta", "vmta is required")
	}
	if err := w.s.opts.Admin.WarmupControl(op, r.GetVmta(), r.GetGroup()); err != nil {
		return nil, warmupStatus(err, r.GetVmta(), r.GetGroup())
	}
	w.s.opts.Logger.Info("warm-up changed through the API", "key", k.Name, "op", op, "vmta", r.GetVmta(), "group", r.GetGroup())
	return w.get(r.GetVmta())
}

func (w *warmupService) get(vmta string) (*pb.WarmupVmta, error) {
	vs, err := w.s.opts.Admin.WarmupStatus(vmta)
	if err != nil {
		return nil, warmupStatus(err, vmta, "")
	}
	if len(vs) != 1 {
		return nil, notFound("warming vmta", vmta)
	}
	return warmupVmtaOf(vs[0]), nil
}

// warmupStatus maps an error of the engine's warm-up operations.
func warmupStatus(err error, vmta, group string) error {
	switch {
	case errors.Is(err, engine.ErrNotWarming):
		return notFound("warming vmta", vmta)
	case errors.Is(err, engine.ErrUnknownWarmupGroup):
		return badField("group", "unknown receiver group %q (see warmup.groups)", group)
	}
	return status.Errorf(codes.Internal, "warm-up: %v", err)
}

func warmupVmtaOf(v engine.WarmupVMTA) *pb.WarmupVmta {
	out := &pb.WarmupVmta{Vmta: v.VMTA, Plan: v.Plan, Start: v.Start, Groups: make([]*pb.WarmupGroup, 0, len(v.Groups))}
	for _, g := range v.Groups {
		pg := &pb.WarmupGroup{Group: g.Group, Day: clamp32(g.Day), Cap: clamp32(g.Cap), Allowed: clamp32(g.Allowed),
			Sent: clamp32(g.Sent), Headroom: clamp32(g.Headroom), Paused: g.Paused}
		if d := g.LastDecision; d.Action != "" {
			pg.LastDecision = &pb.WarmupDecision{Action: string(d.Action), Reason: d.Reason, Day: d.Day,
				FromDay: clamp32(d.From + 1), ToDay: clamp32(d.To + 1)}
		}
		out.Groups = append(out.Groups, pg)
	}
	return out
}

// clamp32 is n as an int32, saturated (a daily cap never comes near).
func clamp32(n int) int32 {
	return int32(max(min(n, math.MaxInt32), math.MinInt32))
}
