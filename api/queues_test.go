package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// newTestEngine is a real engine on a Pebble spool in a temp dir, with the
// embedded default configuration and no delivery: what is queued stays.
func newTestEngine(t *testing.T) *engine.Engine {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace = 1 << 20
	cfg.Spool.BallastSize = 0
	eng, err := engine.New(cfg, engine.Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// adminEnv is a running API (gRPC and REST) over a real engine, with the
// admin services registered, and its admin clients.
type adminEnv struct {
	*testEnv
	eng    *engine.Engine
	queues pb.QueuesClient
	vmtas  pb.VmtasClient
	pools  pb.PoolsClient
	stats  pb.StatsClient
}

func adminServer(t *testing.T) *adminEnv {
	t.Helper()
	eng := newTestEngine(t)
	env := testServer(t, nil, func(o *Options) { o.Submitter, o.Admin = eng, eng })
	return &adminEnv{testEnv: env, eng: eng, queues: pb.NewQueuesClient(env.conn), vmtas: pb.NewVmtasClient(env.conn),
		pools: pb.NewPoolsClient(env.conn), stats: pb.NewStatsClient(env.conn)}
}

// inject queues one raw message per address through the Injector.
func (e *adminEnv) inject(t *testing.T, addrs ...string) {
	t.Helper()
	e.injectCampaign(t, "", addrs...)
}

// injectCampaign queues one raw message per address for campaign.
func (e *adminEnv) injectCampaign(t *testing.T, campaign string, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		if _, err := e.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example", Campaign: campaign,
			Recipients: rcpts(a), Content: &pb.Content{RawMime: rawMIME}}); err != nil {
			t.Fatal(err)
		}
	}
}

// listQueues returns the queues as "vmta/domain" -> queue.
func (e *adminEnv) listQueues(t *testing.T, r *pb.ListQueuesRequest) map[string]*pb.Queue {
	t.Helper()
	resp, err := e.queues.ListQueues(withKey(keyRead), r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pb.Queue{}
	for _, q := range resp.Queues {
		out[q.Vmta+"/"+q.Domain] = q
	}
	return out
}

func get(t *testing.T, url, authz string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestQueues_RealEngine_ListShowsInjectedMail(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "b@a.test", "c@b.test")

	qs := env.listQueues(t, &pb.ListQueuesRequest{})
	if len(qs) != 2 || qs["default/a.test"].GetRecipients() != 2 || qs["default/b.test"].GetRecipients() != 1 {
		t.Fatalf("queues %v", qs)
	}
	if q := qs["default/a.test"]; q.Paused || q.EarliestDue == nil {
		t.Fatalf("a.test %v", q)
	}
	if qs := env.listQueues(t, &pb.ListQueuesRequest{Domain: "B.TEST"}); len(qs) != 1 || qs["default/b.test"] == nil {
		t.Fatalf("domain filter: %v", qs)
	}
	if qs := env.listQueues(t, &pb.ListQueuesRequest{Vmta: "nope"}); len(qs) != 0 {
		t.Fatalf("vmta filter: %v", qs)
	}

	// REST: the same list, filtered by query parameters.
	code, body := get(t, env.url+"/v1/queues?domain=a.test", "Bearer "+keyRead)
	var out struct {
		Queues []struct {
			Vmta, Domain, Recipients string
			EarliestDue              string `json:"earliest_due"`
		} `json:"queues"`
	}
	if err := json.Unmarshal(body, &out); code != 200 || err != nil {
		t.Fatalf("HTTP %d %s (%v)", code, body, err)
	}
	if len(out.Queues) != 1 || out.Queues[0].Domain != "a.test" || out.Queues[0].Recipients != "2" || out.Queues[0].EarliestDue == "" {
		t.Fatalf("REST queues %s", body)
	}
}

func TestQueues_RealEngine_PauseResumeTogglesPaused(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "c@b.test")
	admin := withKey(keyAdmin)

	p, err := env.queues.PauseQueues(admin, &pb.PauseQueuesRequest{Domain: "a.test"})
	if err != nil || p.PausedQueues != 1 {
		t.Fatalf("pause: %v %v", p, err)
	}
	qs := env.listQueues(t, &pb.ListQueuesRequest{})
	if !qs["default/a.test"].Paused || qs["default/b.test"].Paused {
		t.Fatalf("after pause: %v", qs)
	}
	r, err := env.queues.ResumeQueues(admin, &pb.ResumeQueuesRequest{Domain: "a.test"})
	if err != nil || r.ResumedQueues != 1 {
		t.Fatalf("resume: %v %v", r, err)
	}
	if qs := env.listQueues(t, &pb.ListQueuesRequest{}); qs["default/a.test"].Paused {
		t.Fatalf("after resume: %v", qs)
	}

	// REST: pause everything, then resume.
	if code, body := post(t, env.url+"/v1/queues:pause", "Bearer "+keyAdmin, `{}`); code != 200 || !strings.Contains(string(body), `"paused_queues":2`) {
		t.Fatalf("REST pause: %d %s", code, body)
	}
	for k, q := range env.listQueues(t, &pb.ListQueuesRequest{}) {
		if !q.Paused {
			t.Errorf("%s not paused", k)
		}
	}
	if code, body := post(t, env.url+"/v1/queues:resume", "Bearer "+keyAdmin, ``); code != 200 {
		t.Fatalf("REST resume: %d %s", code, body)
	}
	for k, q := range env.listQueues(t, &pb.ListQueuesRequest{}) {
		if q.Paused {
			t.Errorf("%s still paused", k)
		}
	}
}

func TestQueues_RealEngine_Flush(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "b@a.test")
	resp, err := env.queues.FlushQueues(withKey(keyAdmin), &pb.FlushQueuesRequest{Domain: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	// Fresh mail is due now already: nothing to move, nothing lost.
	if resp.FlushedRecipients > 2 || env.eng.SpoolStats().Recipients != 2 {
		t.Fatalf("flushed %d; spool %+v", resp.FlushedRecipients, env.eng.SpoolStats())
	}
}

func TestQueues_RealEngine_PurgeWithoutDSN_Empties(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "b@a.test", "c@b.test")
	admin := withKey(keyAdmin)
	no := false

	_, err := env.queues.PurgeQueues(admin, &pb.PurgeQueuesRequest{Dsn: &no})
	wantStatus(t, err, codes.InvalidArgument, "all")
	if n := env.eng.SpoolStats().Recipients; n != 3 {
		t.Fatalf("empty filter without all purged: %d left", n)
	}

	resp, err := env.queues.PurgeQueues(admin, &pb.PurgeQueuesRequest{Domain: "a.test", Dsn: &no})
	if err != nil || resp.PurgedRecipients != 2 {
		t.Fatalf("purge a.test: %v %v", resp, err)
	}
	if qs := env.listQueues(t, &pb.ListQueuesRequest{}); len(qs) != 1 || qs["default/b.test"] == nil {
		t.Fatalf("after purging a.test: %v", qs)
	}

	// REST: the empty filter needs all, named in the error; then purge all.
	code, body := post(t, env.url+"/v1/queues:purge", "Bearer "+keyAdmin, `{"dsn": false}`)
	var st restStatus
	if err := json.Unmarshal(body, &st); code != 400 || err != nil || st.Code != int(codes.InvalidArgument) ||
		len(st.Details) == 0 || len(st.Details[0].FieldViolations) == 0 || st.Details[0].FieldViolations[0].Field != "all" {
		t.Fatalf("REST purge without all: %d %s", code, body)
	}
	code, body = post(t, env.url+"/v1/queues:purge", "Bearer "+keyAdmin, `{"dsn": false, "all": true}`)
	if code != 200 || !strings.Contains(string(body), `"purged_recipients":"1"`) {
		t.Fatalf("REST purge all: %d %s", code, body)
	}
	if qs := env.listQueues(t, &pb.ListQueuesRequest{}); len(qs) != 0 {
		t.Fatalf("after purge all: %v", qs)
	}
	if st := env.eng.SpoolStats(); st.Messages != 0 || st.Recipients != 0 {
		t.Fatalf("spool %+v", st)
	}
}

func TestQueues_RealEngine_TraceRecipient(t *testing.T) {
	env := adminServer(t)
	resp, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("ann@t.test"), Content: &pb.Content{RawMime: rawMIME}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetId()
	tr, err := env.queues.TraceRecipient(withKey(keyRead), &pb.TraceRecipientRequest{Id: id, Recipient: "ann@t.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.GetRecipients()) != 1 || tr.Recipients[0].GetState() != "queued" || tr.Recipients[0].GetDomain() != "t.test" ||
		tr.Recipients[0].GetNextAttempt() == nil {
		t.Fatalf("trace %v", tr)
	}
	if _, err := env.queues.TraceRecipient(withKey(keyRead), &pb.TraceRecipientRequest{Id: "06H0000000000000"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown id: %v, want NotFound", err)
	}
	if _, err := env.queues.TraceRecipient(withKey(keyRead), &pb.TraceRecipientRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no id: %v, want InvalidArgument", err)
	}
	code, body := get(t, env.url+"/v1/queues/messages/"+id, "Bearer "+keyRead)
	if code != 200 || !strings.Contains(string(body), "ann@t.test") {
		t.Fatalf("REST trace: %d %s", code, body)
	}
}
