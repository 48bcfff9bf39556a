package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// feedbackService is the Feedback service over Options.Admin.
type feedbackService struct {
	pb.UnimplementedFeedbackServer
	s *Server
}

func (f *feedbackService) ListActions(ctx context.Context, _ *pb.ListActionsRequest) (*pb.ListActionsResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	as := f.s.opts.Admin.Actions()
	out := &pb.ListActionsResponse{Actions: make([]*pb.Action, 0, len(as))}
	for _, a := range as {
		pa := &pb.Action{Vmta: a.VMTA, Site: a.Site, Group: a.Group, Kind: a.Kind, Cause: a.Cause,
			Start: timestampOrNil(a.Start), Expiry: timestampOrNil(a.Expiry)}
		out.Actions = append(out.Actions, pa)
	}
	return out, nil
}

func (f *feedbackService) LiftAction(ctx context.Context, r *pb.LiftActionRequest) (*pb.LiftActionResponse, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	if r.GetVmta() == "" {
		return nil, badField("vmta", "vmta is required")
	}
	n, err := f.s.opts.Admin.LiftAction(r.GetVmta(), r.GetSite(), r.GetKind(), "api key "+k.Name)
	switch {
	case errors.Is(err, engine.ErrUnknownActionKind):
		return nil, badField("kind", "%s", cause(err))
	case errors.Is(err, engine.ErrNoAction):
		what := fmt.Sprintf("vmta %q", r.GetVmta())
		if r.GetSite() != "" {
			what += fmt.Sprintf(", site %q", r.GetSite())
		}
		if r.GetKind() != "" {
			what += fmt.Sprintf(", kind %q", r.GetKind())
		}
		return nil, notFoundMsg("action", r.GetVmta(), "no action in force for "+what)
	case err != nil:
		return nil, status.Errorf(codes.Internal, "lift: %v", err)
	}
	f.s.opts.Logger.Info("feedback actions lifted through the API", "key", k.Name, "vmta", r.GetVmta(),
		"site", r.GetSite(), "kind", r.GetKind(), "n", n)
	return &pb.LiftActionResponse{Lifted: int32(n)}, nil
}

func (f *feedbackService) ReportFeedback(ctx context.Context, r *pb.ReportFeedbackRequest) (*pb.FeedbackResult, error) {
	k, err := authorize(ctx, RoleAdmin)
	if err != nil {
		return nil, err
	}
	kind := engine.FeedbackKind(strings.ToLower(r.GetKind()))
	var vs []violation
	switch kind {
	case engine.FeedbackBounce:
		switch {
		case r.GetRecipient() == "":
			vs = append(vs, violation{"recipient", "a bounce needs the VERP address it was sent to"})
		case !f.s.opts.Admin.IsFeedbackRecipient(r.GetRecipient()):
			vs = append(vs, violation{"recipient", fmt.Sprintf("%q is not an address of the VERP domain (feedback.verp.domain)", r.GetRecipient())})
		}
	case engine.FeedbackComplaint:
	default:
		vs = append(vs, violation{"kind", fmt.Sprintf("kind %q: want bounce or complaint", r.GetKind())})
	}
	if len(r.GetMessage()) == 0 {
		vs = append(vs, violation{"message", "message is required: the whole report as received"})
	}
	if len(vs) > 0 {
		return nil, invalid(vs...)
	}
	res, err := f.s.opts.Admin.Feedback(kind, r.GetRecipient(), r.GetMessage())
	if err != nil {
		if errors.Is(err, engine.ErrInvalidEnvelope) {
			return nil, badField("message", "unreadable report (kept for inspection): %s", cause(err))
		}
		return nil, status.Errorf(codes.Unavailable, "report not handled: %v", err)
	}
	f.s.opts.Logger.Info("feedback reported through the API", "key", k.Name, "kind", kind, "rcpt", res.Recipient,
		"suppressed", res.Suppressed)
	return &pb.FeedbackResult{Kind: string(res.Kind), Recipient: res.Recipient, Id: res.MsgID, Vmta: res.VMTA,
		Campaign: res.Campaign, Category: res.Category, Status: res.Status, Suppressed: res.Suppressed}, nil
}

func (f *feedbackService) ListBadFeedback(ctx context.Context, r *pb.ListBadFeedbackRequest) (*pb.ListBadFeedbackResponse, error) {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return nil, err
	}
	reps, err := f.s.opts.Admin.BadFeedback()
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "unreadable reports: %v", err)
	}
	out := &pb.ListBadFeedbackResponse{Reports: make([]*pb.BadFeedback, 0, len(reps))}
	for _, rep := range reps {
		b := &pb.BadFeedback{Key: rep.Key, Kind: string(rep.Kind), Error: rep.Error, ReceivedAt: timestampOrNil(rep.At),
			Size: int64(len(rep.Body))}
		if r.GetIncludeMessages() {
			b.Message = []byte(rep.Body)
		}
		out.Reports = append(out.Reports, b)
	}
	return out, nil
}

// timestampOrNil is t as a Timestamp, nil for the zero time.
func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// cause is an engine error's text without the sentinel's and the
// package's prefixes ("engine: ", "invalid envelope: ").
func cause(err error) string {
	s := trimEngine(err)
	return strings.TrimPrefix(s, engine.ErrInvalidEnvelope.Error()+": ")
}

// notFoundMsg is a NotFound status with msg, naming the resource in a
// google.rpc.ResourceInfo detail.
func notFoundMsg(kind, name, msg string) error {
	st := status.New(codes.NotFound, msg)
	if d, err := st.WithDetails(&errdetails.ResourceInfo{ResourceType: kind, ResourceName: name}); err == nil {
		st = d
	}
	return st.Err()
}
