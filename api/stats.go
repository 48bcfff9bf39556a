package api

import (
	"context"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// statsService is the Stats service over Options.Admin.
type statsService struct {
	pb.UnimplementedStatsServer
	s *Server
}

func (st *statsService) GetStats(ctx context.Context, r *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	s := st.s.opts.Admin.SpoolStats()
	// SpoolStats returns copies of its maps: they are ours to hand out.
	out := &pb.GetStatsResponse{Messages: s.Messages, Recipients: s.Recipients, BodyBytes: s.BodyBytes,
		ByDomain: s.ByDomain, ByVmta: s.ByVMTA, ByPool: s.ByPool, ByCampaign: s.ByCampaign, ByTenant: s.ByTenant}
	limit := int(r.GetDomainLimit())
	switch {
	case limit == 0:
		limit = 100
	case limit < 0:
		limit = 0 // all
	}
	vs, ds := st.s.opts.Admin.OutcomeStats(limit)
	out.VmtaOutcomes, out.DomainOutcomes = outcomesPB(vs), outcomesPB(ds)
	return out, nil
}

func outcomesPB(os []engine.Outcomes) []*pb.Outcomes {
	out := make([]*pb.Outcomes, 0, len(os))
	for _, o := range os {
		out = append(out, &pb.Outcomes{Key: o.Key, Delivered: o.Delivered, Deferred: o.Deferred, Bounced: o.Bounced,
			DeliveredPerMin: o.DeliveredPerMin, DeferredPerMin: o.DeferredPerMin, BouncedPerMin: o.BouncedPerMin})
	}
	return out
}
