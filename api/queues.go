package api

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// queuesService is the Queues service over Options.Admin: listing needs
// the read role, every change admin.
type queuesService struct {
	pb.UnimplementedQueuesServer
	s *Server
}

// queueFilter is the engine's filter of a request's vmta and domain. The
// domain is lowercased, as the engine stores it.
func queueFilter(vmta, domain string) engine.QueueFilter {
	return engine.QueueFilter{VMTA: strings.TrimSpace(vmta), Domain: strings.ToLower(strings.TrimSpace(domain))}
}

func (q *queuesService) ListQueues(ctx context.Context, r *pb.ListQueuesRequest) (*pb.ListQueuesResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	qs := q.s.opts.Admin.Queues(queueFilter(r.GetVmta(), r.GetDomain()))
	out := &pb.ListQueuesResponse{Queues: make([]*pb.Queue, 0, len(qs))}
	for _, qi := range qs {
		pq := &pb.Queue{Vmta: qi.VMTA, Domain: qi.Domain, Recipients: int64(qi.Recipients), Paused: qi.Paused}
		if !qi.EarliestDue.IsZero() {
			pq.EarliestDue = timestamppb.New(qi.EarliestDue)
		}
		out.Queues = append(out.Queues, pq)
	}
	return out, nil
}

func (q *queuesService) TraceRecipient(ctx context.Context, r *pb.TraceRecipientRequest) (*pb.TraceRecipientResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	if strings.TrimSpace(r.GetId()) == "" {
		return nil, badField("id", "the queue ID is required")
	}
	trs, err := q.s.opts.Admin.TraceRecipient(r.GetId(), r.GetRecipient())
	if errors.Is(err, engine.ErrNotQueued) {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	out := &pb.TraceRecipientResponse{}
	for _, t := range trs {
		rt := &pb.RecipientTrace{Id: t.MsgID, Recipient: t.Recipient, Vmta: t.VMTA, Domain: t.Domain, State: t.State,
			Attempts: int32(t.Attempts), LastReply: t.LastReply, HeldBy: t.HeldBy, Limits: t.Limits,
			NextAttempt: timestamppb.New(t.NextAttempt), ExpiresAt: timestamppb.New(t.ExpiresAt)}
		if !t.LastAttempt.IsZero() {
			rt.LastAttempt = timestamppb.New(t.LastAttempt)
		}
		out.Recipients = append(out.Recipients, rt)
	}
	return out, nil
}

func (q *queuesService) PauseQueues(ctx context.Context, r *pb.PauseQueuesRequest) (*pb.PauseQueuesResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	f := queueFilter(r.GetVmta(), r.GetDomain())
	n := q.s.opts.Admin.Pause(f)
	q.s.opts.Logger.Info("queues paused through the API", "key", k.Name, "vmta", f.VMTA, "domain", f.Domain, "queues", n)
	return &pb.PauseQueuesResponse{PausedQueues: int32(n)}, nil
}

func (q *queuesService) ResumeQueues(ctx context.Context, r *pb.ResumeQueuesRequest) (*pb.ResumeQueuesResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	f := queueFilter(r.GetVmta(), r.GetDomain())
	n := q.s.opts.Admin.Resume(f)
	q.s.opts.Logger.Info("queues resumed through the API", "key", k.Name, "vmta", f.VMTA, "domain", f.Domain, "queues", n)
	return &pb.ResumeQueuesResponse{ResumedQueues: int32(n)}, nil
}

func (q *queuesService) FlushQueues(ctx context.Context, r *pb.FlushQueuesRequest) (*pb.FlushQueuesResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	f := queueFilter(r.GetVmta(), r.GetDomain())
	n, err := q.s.opts.Admin.Flush(ctx, f)
	q.s.opts.Logger.Info("queues flushed through the API", "key", k.Name, "vmta", f.VMTA, "domain", f.Domain,
		"recipients", n, "error", err)
	if err != nil {
		return nil, partialStatus("flush", n, err)
	}
	return &pb.FlushQueuesResponse{FlushedRecipients: int64(n)}, nil
}

func (q *queuesService) PurgeQueues(ctx context.Context, r *pb.PurgeQueuesRequest) (*pb.PurgeQueuesResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	f := queueFilter(r.GetVmta(), r.GetDomain())
	if f == (engine.QueueFilter{}) && !r.GetAll() {
		return nil, badField("all", "refusing to purge every queue: name a vmta or domain, or set all to true")
	}
	dsn := r.Dsn == nil || *r.Dsn // unset means bounce, as the HTTP admin endpoint does
	n, err := q.s.opts.Admin.Purge(ctx, f, dsn)
	q.s.opts.Logger.Info("queues purged through the API", "key", k.Name, "vmta", f.VMTA, "domain", f.Domain,
		"dsn", dsn, "recipients", n, "error", err)
	if err != nil {
		return nil, partialStatus("purge", n, err)
	}
	return &pb.PurgeQueuesResponse{PurgedRecipients: int64(n)}, nil
}

// partialStatus reports an admin operation that stopped after n
// recipients. Flush and purge are safe to retry: what was done is not
// done again.
func partialStatus(op string, n int, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Errorf(codes.Canceled, "%s canceled after %d recipients", op, n)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "%s: deadline passed after %d recipients; retry to finish", op, n)
	}
	return status.Errorf(codes.Unavailable, "%s stopped after %d recipients: %v; retry to finish", op, n, err)
}
