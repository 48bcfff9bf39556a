package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/compose"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// maxIdempotencyKey is the longest idempotency_key, in bytes.
const maxIdempotencyKey = 256

// job is an Inject or InjectBatch request, normalised.
type job struct {
	from, fromName               string
	rcpts                        []*pb.Recipient
	content                      *pb.Content
	pool, vmta, campaign, tenant string
	partial                      bool
	maxRcpts                     int
}

func injectJob(r *pb.InjectRequest, maxRcpts int) *job {
	return &job{from: r.GetFrom(), fromName: r.GetFromName(), rcpts: r.GetRecipients(), content: r.GetContent(),
		pool: r.GetPool(), vmta: r.GetVmta(), campaign: r.GetCampaign(), tenant: r.GetTenant(), maxRcpts: maxRcpts}
}

func batchJob(r *pb.InjectBatchRequest, maxRcpts int) *job {
	return &job{from: r.GetFrom(), fromName: r.GetFromName(), rcpts: r.GetRecipients(), content: r.GetContent(),
		pool: r.GetPool(), vmta: r.GetVmta(), campaign: r.GetCampaign(), tenant: r.GetTenant(),
		partial: r.GetPartial(), maxRcpts: maxRcpts}
}

// unit is one message to submit: a body and the indexes of its recipients.
type unit struct {
	rcpts []int
	body  []byte
}

// plan is a job checked and rendered, ready to submit.
type plan struct {
	statuses []*pb.RecipientStatus
	units    []unit
}

// checkJob applies the request-level rules: everything but the recipients'
// own addresses and renderings. Its error is a status error.
func (s *Server) checkJob(k *Key, j *job) error {
	if len(j.rcpts) == 0 {
		return badField("recipients", "at least one recipient is required")
	}
	if len(j.rcpts) > j.maxRcpts {
		return badField("recipients", "%d recipients, at most %d per request (use InjectBatch or several requests)", len(j.rcpts), j.maxRcpts)
	}
	if j.content == nil {
		return badField("content", "content is required: subject/text/html, or raw_mime")
	}
	if j.from != "" {
		if err := checkAddress(j.from); err != nil {
			return badField("from", "%v", err)
		}
	}
	if !k.senderAllowed(j.from) {
		return status.Errorf(codes.PermissionDenied, "from: API key %q may not send as %q (allowed sender domains: %v)", k.Name, j.from, k.SenderDomains)
	}
	if !k.poolAllowed(j.pool) {
		return status.Errorf(codes.PermissionDenied, "pool: API key %q may only use pools %v; set pool to one of them", k.Name, k.Pools)
	}
	return nil
}

// parseContent parses the job's content once for all recipients.
func parseContent(c *pb.Content) (*compose.Template, error) {
	cc := compose.Content{Subject: c.GetSubject(), Text: c.GetText(), HTML: c.GetHtml(), Headers: c.GetHeaders()}
	if len(c.GetRawMime()) > 0 {
		cc.RawMIME = c.GetRawMime()
	}
	t, err := compose.Parse(cc)
	if err != nil {
		return nil, badField(contentField(err), "%v", unwrapCompose(err))
	}
	return t, nil
}

// contentField names the request field of a compose error about content.
func contentField(err error) string {
	var ce *compose.Error
	if !errors.As(err, &ce) || ce.Part == "content" {
		return "content"
	}
	return "content." + ce.Part
}

func unwrapCompose(err error) error {
	var ce *compose.Error
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

// suppressionChecker is the engine's suppression check before submitting
// (so that an all-or-nothing job fails before anything is stored).
type suppressionChecker interface {
	RefusesRecipient(from, tenant, rcpt string) error
}

// prepare checks every recipient and renders every body, so that an
// all-or-nothing job is rejected before anything is queued. Rendered bodies
// are held in memory until submitted (a batch of 10,000 costs 10,000
// bodies). Its error is a status error.
func (s *Server) prepare(j *job) (*plan, error) {
	t, err := parseContent(j.content)
	if err != nil {
		return nil, err
	}
	p := &plan{statuses: make([]*pb.RecipientStatus, len(j.rcpts))}
	var vs []violation
	reject := func(i int, field string, err error) {
		p.statuses[i].State = pb.RecipientStatus_REJECTED
		p.statuses[i].Code = int32(codes.InvalidArgument)
		p.statuses[i].Field = field
		p.statuses[i].Message = err.Error()
		vs = append(vs, violation{field, err.Error()})
	}
	fromHeader := j.from
	if j.fromName != "" {
		fromHeader = (&mail.Address{Name: j.fromName, Address: j.from}).String()
	}
	var raw []byte
	if t.Raw() {
		if raw, err = t.Render(compose.Message{}); err != nil {
			return nil, badField(contentField(err), "%v", unwrapCompose(err))
		}
		if int64(len(raw)) > s.opts.MaxMessageBytes {
			return nil, badField("content.raw_mime", "message is %d bytes, at most %d", len(raw), s.opts.MaxMessageBytes)
		}
	} else if j.from == "" {
		return nil, badField("from", "a template needs a from address for its From: header")
	}
	var good []int
	for i, r := range j.rcpts {
		p.statuses[i] = &pb.RecipientStatus{Address: r.GetAddress()}
		field := fmt.Sprintf("recipients[%d]", i)
		if err := checkAddress(r.GetAddress()); err != nil {
			reject(i, field+".address", err)
			continue
		}
		if sc, ok := s.opts.Submitter.(suppressionChecker); ok {
			if err := sc.RefusesRecipient(j.from, j.tenant, r.GetAddress()); err != nil {
				reject(i, field+".address", err)
				continue
			}
		}
		if raw != nil {
			if len(r.GetVars()) > 0 {
				reject(i, field+".vars", errors.New("vars need template content; raw_mime is sent as is"))
				continue
			}
			good = append(good, i)
			continue
		}
		body, err := t.Render(compose.Message{From: fromHeader, To: r.GetAddress(), Vars: toAny(r.GetVars()),
			MessageIDDomain: s.opts.MessageIDDomain, Date: s.opts.Clock()})
		if err != nil {
			if f := contentField(err); f == "content.from" || f == "content.message_id_domain" {
				return nil, badField("from", "%v", unwrapCompose(err))
			} else if f == "content.to" {
				reject(i, field+".address", unwrapCompose(err))
			} else {
				reject(i, field+".vars", fmt.Errorf("%s: %v", f, unwrapCompose(err)))
			}
			continue
		}
		if int64(len(body)) > s.opts.MaxMessageBytes {
			reject(i, "content", fmt.Errorf("the message for %s is %d bytes, at most %d", r.GetAddress(), len(body), s.opts.MaxMessageBytes))
			continue
		}
		p.units = append(p.units, unit{rcpts: []int{i}, body: body})
	}
	if len(vs) > 0 && (!j.partial || len(vs) == len(j.rcpts)) {
		return nil, invalid(vs...)
	}
	// Raw content is stored once per s.opts.MaxRecipients recipients.
	for len(good) > 0 {
		n := min(len(good), s.opts.MaxRecipients)
		p.units = append(p.units, unit{rcpts: good[:n:n], body: raw})
		good = good[n:]
	}
	return p, nil
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// submit stores the plan's units, SubmitConcurrency at a time, and fills
// in the statuses. For an all-or-nothing job the first failure stops the
// submission of units not yet started; units already stored stay queued
// (the spool has no way to take back an acknowledged message) and are
// reported QUEUED, the others NOT_ATTEMPTED. It returns the number of
// recipients queued and the first failure.
func (s *Server) submit(ctx context.Context, k *Key, j *job, p *plan) (queued int, first *status.Status) {
	env := engine.Envelope{From: j.from, VMTA: j.vmta, Pool: j.pool, Campaign: j.campaign, Tenant: j.tenant,
		Source: "api key=" + k.Name}
	env.SMTPUTF8 = !isASCII([]byte(j.from))
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
		sem     = make(chan struct{}, s.opts.SubmitConcurrency)
	)
	for ui := range p.units {
		u := &p.units[ui]
		sem <- struct{}{} // before looking at stopped: a unit in flight may yet fail
		mu.Lock()
		stop, why := stopped, ""
		if stop {
			why = "not queued: another recipient of this all-or-nothing request failed: " + first.Message()
		}
		mu.Unlock()
		if stop {
			for _, i := range u.rcpts {
				st := p.statuses[i]
				st.State, st.Code, st.Message = pb.RecipientStatus_NOT_ATTEMPTED, int32(codes.Aborted), why
			}
			<-sem
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e := env
			e.To = make([]string, len(u.rcpts))
			utf8 := e.SMTPUTF8
			for n, i := range u.rcpts {
				e.To[n] = j.rcpts[i].GetAddress()
				utf8 = utf8 || !isASCII([]byte(e.To[n]))
			}
			e.SMTPUTF8, e.Body8Bit = utf8, !isASCII(u.body)
			id, err := s.opts.Submitter.Submit(ctx, e, u.body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				st := submitStatus(err, fmt.Sprintf("recipients[%d]", u.rcpts[0]))
				if st.Code() == codes.Unavailable {
					s.opts.Logger.Error("api: submit failed", "key", k.Name, "err", err)
				}
				if first == nil {
					first = st
				}
				stopped = stopped || !j.partial
				for _, i := range u.rcpts {
					rs := p.statuses[i]
					rs.State, rs.Code, rs.Message, rs.Field = pb.RecipientStatus_REJECTED, int32(st.Code()), st.Message(), fieldOf(st)
				}
				return
			}
			queued += len(u.rcpts)
			for _, i := range u.rcpts {
				p.statuses[i].State, p.statuses[i].Id = pb.RecipientStatus_QUEUED, id
			}
			if s.opts.Logger.Enabled(ctx, slog.LevelDebug) { // one line per message, at debug
				s.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "message accepted", slog.String("via", "api"),
					slog.String("key", k.Name), slog.String("queue_id", id), slog.String("from", e.From),
					slog.Int("rcpts", len(e.To)), slog.Int("bytes", len(u.body)), slog.String("campaign", e.Campaign))
			}
		}()
	}
	wg.Wait()
	return queued, first
}

// run checks, renders and submits a job. Following the API's rule, the
// call fails (error status) exactly when nothing was queued.
func (s *Server) run(ctx context.Context, k *Key, j *job) (*plan, error) {
	if err := s.checkJob(k, j); err != nil {
		return nil, err
	}
	p, err := s.prepare(j)
	if err != nil {
		return nil, err
	}
	queued, first := s.submit(ctx, k, j, p)
	if queued == 0 && first != nil {
		return nil, first.Err()
	}
	return p, nil
}

// Inject implements pb.InjectorServer.
func (s *Server) Inject(ctx context.Context, req *pb.InjectRequest) (*pb.InjectResponse, error) {
	k, err := authorize(ctx, RoleInject)
	if err != nil {
		return nil, err
	}
	return s.inject(ctx, k, req)
}

// inject is Inject after authorization (also used by InjectStream).
func (s *Server) inject(ctx context.Context, k *Key, req *pb.InjectRequest) (*pb.InjectResponse, error) {
	resp := &pb.InjectResponse{}
	err := s.idempotent(ctx, k, "inject", req.GetIdempotencyKey(), req, resp, func() error {
		p, err := s.run(ctx, k, injectJob(req, s.opts.MaxRecipients))
		if err != nil {
			return err
		}
		resp.Recipients = p.statuses
		if len(p.units) == 1 {
			resp.Id = p.statuses[p.units[0].rcpts[0]].GetId()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// InjectBatch implements pb.InjectorServer.
func (s *Server) InjectBatch(ctx context.Context, req *pb.InjectBatchRequest) (*pb.InjectBatchResponse, error) {
	k, err := authorize(ctx, RoleInject)
	if err != nil {
		return nil, err
	}
	resp := &pb.InjectBatchResponse{}
	err = s.idempotent(ctx, k, "batch", req.GetIdempotencyKey(), req, resp, func() error {
		p, err := s.run(ctx, k, batchJob(req, s.opts.MaxBatchRecipients))
		if err != nil {
			return err
		}
		resp.Recipients = p.statuses
		for _, st := range p.statuses {
			if st.GetState() == pb.RecipientStatus_QUEUED {
				resp.Queued++
			} else {
				resp.Rejected++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
