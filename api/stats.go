package api

import (
	"context"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// statsService is the Stats service over Options.Admin.
type statsService struct {
	pb.UnimplementedStatsServer
	s *Server
}

func (st *statsService) GetStats(ctx context.Context, _ *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	s := st.s.opts.Admin.SpoolStats()
	// SpoolStats returns copies of its maps: they are ours to hand out.
	return &pb.GetStatsResponse{Messages: s.Messages, Recipients: s.Recipients, BodyBytes: s.BodyBytes,
		ByDomain: s.ByDomain, ByVmta: s.ByVMTA, ByPool: s.ByPool, ByCampaign: s.ByCampaign}, nil
}
