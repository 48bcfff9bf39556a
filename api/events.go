package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// eventsService is the Events service over Options.Admin; it needs the
// read role.
type eventsService struct {
	pb.UnimplementedEventsServer
	s *Server
}

// subscribe runs one subscription of r for the caller in ctx, sending each
// event with send. Its errors are gRPC status errors.
func (ev *eventsService) subscribe(ctx context.Context, r *pb.SubscribeRequest, send func(*pb.Event) error) error {
	if _, err := authorize(ctx, RoleRead); err != nil {
		return err
	}
	f := engine.EventFilter{VMTA: strings.TrimSpace(r.GetVmta()), Domain: strings.ToLower(strings.TrimSpace(r.GetDomain())),
		Campaign: r.GetCampaign()}
	for _, t := range r.GetTypes() {
		if t = strings.TrimSpace(t); t != "" {
			f.Types = append(f.Types, t)
		}
	}
	if err := f.Validate(); err != nil {
		return badField("types", "%s", strings.TrimPrefix(err.Error(), "engine: "))
	}
	after := r.GetAfterCursor()
	if r.GetFromNow() {
		after = ev.s.opts.Admin.LastEventSeq()
	}
	err := ev.s.opts.Admin.Events(ctx, after, f, func(e engine.Event) error { return send(eventPB(&e)) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, spool.ErrEventsLost):
		return status.Error(codes.OutOfRange, err.Error()+": resubscribe from cursor 0")
	case errors.Is(err, spool.ErrCursorAhead):
		return badField("after_cursor", "%s", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err // send's own error
	}
	return status.Error(codes.Unavailable, err.Error())
}

func (ev *eventsService) Subscribe(r *pb.SubscribeRequest, stream pb.Events_SubscribeServer) error {
	return ev.subscribe(stream.Context(), r, stream.Send)
}

func eventPB(e *engine.Event) *pb.Event {
	return &pb.Event{Cursor: e.Seq, Time: timestamppb.New(e.Time), Type: e.Type, Id: e.MsgID, Recipient: e.Recipient,
		Vmta: e.VMTA, Domain: e.Domain, Campaign: e.Campaign, Reply: e.Reply, Category: e.Category}
}

// serveREST is GET /v1/events: the query parameters are SubscribeRequest's
// fields (types repeated or comma-separated); the response is
// newline-delimited JSON, one {"result": Event} a line, flushed per event,
// and an error after the stream has started is a last {"error": Status}
// line. (The gateway's in-process transport does not stream, hence this
// handler.)
func (ev *eventsService) serveREST(gw *runtime.ServeMux) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		_, out := runtime.MarshalerForRequest(gw, r)
		req, err := subscribeRequestOf(r)
		started := false
		if err == nil {
			flusher, _ := w.(http.Flusher)
			err = ev.subscribe(r.Context(), req, func(e *pb.Event) error {
				if !started {
					started = true
					w.Header().Set("Content-Type", "application/x-ndjson")
					w.WriteHeader(http.StatusOK)
				}
				b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(e)
				if err != nil {
					return status.Error(codes.Internal, err.Error())
				}
				if _, err := w.Write(append(append([]byte(`{"result":`), b...), "}\n"...)); err != nil {
					return status.Error(codes.Canceled, err.Error())
				}
				if flusher != nil {
					flusher.Flush()
				}
				return nil
			})
		}
		if err == nil || r.Context().Err() != nil {
			return
		}
		if !started {
			restError(r.Context(), gw, out, w, r, err)
			return
		}
		if b, merr := protojson.Marshal(status.Convert(err).Proto()); merr == nil {
			_, _ = w.Write(append(append([]byte(`{"error":`), b...), "}\n"...))
		}
	}
}

// subscribeRequestOf reads a SubscribeRequest from the query string.
func subscribeRequestOf(r *http.Request) (*pb.SubscribeRequest, error) {
	q := r.URL.Query()
	req := &pb.SubscribeRequest{Vmta: q.Get("vmta"), Domain: q.Get("domain"), Campaign: q.Get("campaign")}
	for k := range q {
		switch k {
		case "after_cursor", "afterCursor", "types", "vmta", "domain", "campaign", "from_now", "fromNow":
		default:
			return nil, badField(k, "unknown query parameter %q", k)
		}
	}
	if v := q.Get("after_cursor") + q.Get("afterCursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, badField("after_cursor", "not a cursor: %q", v)
		}
		req.AfterCursor = n
	}
	if v := q.Get("from_now") + q.Get("fromNow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badField("from_now", "not a boolean: %q", v)
		}
		req.FromNow = b
	}
	for _, t := range q["types"] {
		req.Types = append(req.Types, strings.Split(t, ",")...)
	}
	return req, nil
}
