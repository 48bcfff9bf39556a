package api

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// testNow is the engine's clock in newEngineWith, as testServer's.
var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newEngineWith is newTestEngine with mutate applied to the configuration
// first, on a clock stopped at testNow (it runs no delivery, so no
// scheduler needs the clock to move).
func newEngineWith(t *testing.T, mutate func(*configs.Config)) *engine.Engine {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace = 1 << 20
	cfg.Spool.BallastSize = 0
	mutate(cfg)
	eng, err := engine.New(cfg, engine.Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler),
		Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// warmEnv is a running API over an engine whose vmta cold follows plan
// new-ip (other: 5, 10, 20...; gmail: 3, 6, 12...) beside vmta warm (no
// plan).
type warmEnv struct {
	*adminEnv
	warmup pb.WarmupClient
}

func warmServer(t *testing.T) *warmEnv {
	t.Helper()
	eng := newEngineWith(t, func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{
			{Name: "cold", SourceIP: "127.0.0.2", HELO: "cold.sluice.test", Warmup: &configs.VMTAWarmup{Plan: "new-ip", Start: "2026-11-23"}},
			{Name: "warm", SourceIP: "127.0.0.3", HELO: "warm.sluice.test"},
		}
		c.Pools = []configs.Pool{{Name: "default", Members: []configs.PoolMember{{VMTA: "cold", Weight: 1}, {VMTA: "warm", Weight: 1}}}}
		c.Warmup.Groups = map[string][]string{"gmail": {"*.google.test"}}
		c.Warmup.Plans = []configs.WarmupPlan{{
			Name:     "new-ip",
			Doubling: &configs.WarmupDoubling{Start: 5, Factor: 2, Days: 6},
			Groups:   map[string]configs.WarmupGroupPlan{"gmail": {Days: []int{3, 6, 12, 24, 48, 96}}},
		}}
	})
	env := testServer(t, nil, func(o *Options) { o.Submitter, o.Admin = eng, eng })
	a := &adminEnv{testEnv: env, eng: eng, queues: pb.NewQueuesClient(env.conn), vmtas: pb.NewVmtasClient(env.conn),
		pools: pb.NewPoolsClient(env.conn), stats: pb.NewStatsClient(env.conn)}
	return &warmEnv{adminEnv: a, warmup: pb.NewWarmupClient(env.conn)}
}

// groupOf returns v's line for group.
func groupOf(t *testing.T, v *pb.WarmupVmta, group string) *pb.WarmupGroup {
	t.Helper()
	for _, g := range v.GetGroups() {
		if g.Group == group {
			return g
		}
	}
	t.Fatalf("%s has no group %q: %v", v.GetVmta(), group, v)
	return nil
}

func TestWarmup_RealEngine_StatusAdvancePauseReset(t *testing.T) {
	env := warmServer(t)
	list, err := env.warmup.ListWarmup(withKey(keyRead), &pb.ListWarmupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Vmtas) != 1 || list.Vmtas[0].Vmta != "cold" || list.Vmtas[0].Plan != "new-ip" {
		t.Fatalf("list: %v", list)
	}
	if g := groupOf(t, list.Vmtas[0], "gmail"); g.Day != 1 || g.Cap != 3 || g.Headroom != 3 || g.Sent != 0 || g.Paused {
		t.Fatalf("gmail on day 1: %v", g)
	}
	if g := groupOf(t, list.Vmtas[0], "other"); g.Day != 1 || g.Cap != 5 {
		t.Fatalf("other on day 1: %v", g)
	}

	// REST: advance gmail only; the answer is the status after.
	code, body := post(t, env.url+"/v1/warmup/cold:advance", "Bearer "+keyAdmin, `{"group": "gmail"}`)
	if code != 200 {
		t.Fatalf("REST advance: %d %s", code, body)
	}
	var v pb.WarmupVmta
	if err := protojson.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	g := groupOf(t, &v, "gmail")
	if g.Day != 2 || g.Cap != 6 || g.LastDecision.GetAction() != "advance" || g.LastDecision.GetFromDay() != 1 ||
		g.LastDecision.GetToDay() != 2 || !strings.Contains(g.LastDecision.GetReason(), "operator") {
		t.Fatalf("gmail after advance: %v", g)
	}
	if g := groupOf(t, &v, "other"); g.Day != 1 || g.Cap != 5 {
		t.Fatalf("other moved with gmail: %v", g)
	}

	// gRPC: pause every group, then GET shows it.
	admin := withKey(keyAdmin)
	if _, err := env.warmup.PauseWarmup(admin, &pb.WarmupControlRequest{Vmta: "cold"}); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, env.url+"/v1/warmup/cold", "Bearer "+keyRead)
	if code != 200 || strings.Count(string(body), `"paused":true`) != len(v.Groups) {
		t.Fatalf("REST get after pause: %d %s", code, body)
	}
	if _, err := env.warmup.ResumeWarmup(admin, &pb.WarmupControlRequest{Vmta: "cold", Group: "gmail"}); err != nil {
		t.Fatal(err)
	}
	got, err := env.warmup.ResetWarmup(admin, &pb.WarmupControlRequest{Vmta: "cold"})
	if err != nil {
		t.Fatal(err)
	}
	if g := groupOf(t, got, "gmail"); g.Day != 1 || g.Cap != 3 || g.Paused || g.LastDecision.GetAction() != "step-back" {
		t.Fatalf("gmail after reset: %v", g)
	}
	if g := groupOf(t, got, "other"); g.Paused {
		t.Fatalf("reset leaves other paused: %v", g)
	}
}

func TestWarmup_Errors_NotFoundInvalidArgumentPermission(t *testing.T) {
	env := warmServer(t)
	admin := withKey(keyAdmin)
	for _, name := range []string{"ghost", "warm"} { // unknown; a vmta without a plan
		_, err := env.warmup.GetWarmup(withKey(keyRead), &pb.GetWarmupRequest{Vmta: name})
		wantStatus(t, err, codes.NotFound, "")
		_, err = env.warmup.AdvanceWarmup(admin, &pb.WarmupControlRequest{Vmta: name})
		wantStatus(t, err, codes.NotFound, "")
	}
	if code, body := get(t, env.url+"/v1/warmup/ghost", "Bearer "+keyRead); code != 404 || !strings.Contains(string(body), "ghost") {
		t.Fatalf("REST unknown vmta: %d %s", code, body)
	}
	_, err := env.warmup.AdvanceWarmup(admin, &pb.WarmupControlRequest{})
	wantStatus(t, err, codes.InvalidArgument, "vmta")
	_, err = env.warmup.PauseWarmup(admin, &pb.WarmupControlRequest{Vmta: "cold", Group: "hotmail"})
	wantStatus(t, err, codes.InvalidArgument, "group")

	code, body := post(t, env.url+"/v1/warmup/cold:advance", "Bearer "+keyAdmin, `{"group": "hotmail"}`)
	var rs restStatus
	if err := json.Unmarshal(body, &rs); code != 400 || err != nil || len(rs.Details) == 0 ||
		len(rs.Details[0].FieldViolations) == 0 || rs.Details[0].FieldViolations[0].Field != "group" {
		t.Fatalf("REST unknown group: %d %s", code, body)
	}
	// An operation that is not one is no route (the gateway answers 501
	// Unimplemented: the path matches GET /v1/warmup/{vmta}); a body field
	// that is not one is InvalidArgument naming it.
	if code, body := post(t, env.url+"/v1/warmup/cold:explode", "Bearer "+keyAdmin, `{}`); code != 404 && code != 501 {
		t.Fatalf("REST unknown op: %d %s", code, body)
	}
	code, body = post(t, env.url+"/v1/warmup/cold:pause", "Bearer "+keyAdmin, `{"grup": "gmail"}`)
	if code != 400 || !strings.Contains(string(body), "grup") {
		t.Fatalf("REST unknown field: %d %s", code, body)
	}

	// The read role reads but does not steer; inject does neither.
	_, err = env.warmup.AdvanceWarmup(withKey(keyRead), &pb.WarmupControlRequest{Vmta: "cold"})
	wantStatus(t, err, codes.PermissionDenied, "")
	if code, body := post(t, env.url+"/v1/warmup/cold:reset", "Bearer "+keyRead, `{}`); code != 403 {
		t.Fatalf("REST read key resets: %d %s", code, body)
	}
	_, err = env.warmup.ListWarmup(withKey(keyInject), &pb.ListWarmupRequest{})
	wantStatus(t, err, codes.PermissionDenied, "")
	v, err := env.warmup.GetWarmup(withKey(keyRead), &pb.GetWarmupRequest{Vmta: "cold"})
	if err != nil || groupOf(t, v, "other").Day != 1 || groupOf(t, v, "other").Paused {
		t.Fatalf("a refused call changed the warm-up: %v %v", v, err)
	}
}
