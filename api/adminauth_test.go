package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// adminCall is one admin RPC, over gRPC and over REST, and the role it
// needs.
type adminCall struct {
	name         string
	need         Role
	grpc         func(context.Context, *adminEnv) error
	method, path string
}

var adminCalls = []adminCall{
	{"ListQueues", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := e.queues.ListQueues(ctx, &pb.ListQueuesRequest{})
		return err
	}, "GET", "/v1/queues"},
	{"ListVmtas", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := e.vmtas.ListVmtas(ctx, &pb.ListVmtasRequest{})
		return err
	}, "GET", "/v1/vmtas"},
	{"ListPools", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := e.pools.ListPools(ctx, &pb.ListPoolsRequest{})
		return err
	}, "GET", "/v1/pools"},
	{"GetStats", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := e.stats.GetStats(ctx, &pb.GetStatsRequest{})
		return err
	}, "GET", "/v1/stats"},
	{"PauseQueues", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.queues.PauseQueues(ctx, &pb.PauseQueuesRequest{Domain: "x.test"})
		return err
	}, "POST", "/v1/queues:pause"},
	{"ResumeQueues", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.queues.ResumeQueues(ctx, &pb.ResumeQueuesRequest{Domain: "x.test"})
		return err
	}, "POST", "/v1/queues:resume"},
	{"FlushQueues", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.queues.FlushQueues(ctx, &pb.FlushQueuesRequest{Domain: "x.test"})
		return err
	}, "POST", "/v1/queues:flush"},
	{"PurgeQueues", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.queues.PurgeQueues(ctx, &pb.PurgeQueuesRequest{Domain: "x.test"})
		return err
	}, "POST", "/v1/queues:purge"},
	{"DisableVmta", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.vmtas.DisableVmta(ctx, &pb.DisableVmtaRequest{Name: "default"})
		return err
	}, "POST", "/v1/vmtas/default:disable"},
	{"EnableVmta", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := e.vmtas.EnableVmta(ctx, &pb.EnableVmtaRequest{Name: "default"})
		return err
	}, "POST", "/v1/vmtas/default:enable"},
	{"ListWarmup", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewWarmupClient(e.conn).ListWarmup(ctx, &pb.ListWarmupRequest{})
		return err
	}, "GET", "/v1/warmup"},
	{"ListActions", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewFeedbackClient(e.conn).ListActions(ctx, &pb.ListActionsRequest{})
		return err
	}, "GET", "/v1/actions"},
	{"ListBadFeedback", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewFeedbackClient(e.conn).ListBadFeedback(ctx, &pb.ListBadFeedbackRequest{})
		return err
	}, "GET", "/v1/feedback/unreadable"},
	{"ListSuppressions", RoleRead, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewSuppressionsClient(e.conn).ListSuppressions(ctx, &pb.ListSuppressionsRequest{})
		return err
	}, "GET", "/v1/suppressions"},
	{"AddSuppressions", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewSuppressionsClient(e.conn).AddSuppressions(ctx, &pb.AddSuppressionsRequest{
			Entries: []*pb.Suppression{{Address: "x@y.test"}}})
		return err
	}, "POST", "/v1/suppressions"},
	{"ImportSuppressions", RoleAdmin, func(ctx context.Context, e *adminEnv) error {
		_, err := pb.NewSuppressionsClient(e.conn).ImportSuppressions(ctx, &pb.ImportSuppressionsRequest{Csv: "x@y.test"})
		return err
	}, "POST", "/v1/suppressions:import"},
}

// restBody is the body of an adminCall's REST request.
func (c adminCall) restBody() string {
	switch {
	case strings.HasPrefix(c.path, "/v1/queues:"):
		return `{"domain": "x.test"}`
	case c.path == "/v1/suppressions":
		return `{"entries": [{"address": "x@y.test"}]}`
	case c.path == "/v1/suppressions:import":
		return `{"csv": "x@y.test"}`
	}
	return ""
}

// adminKeys are the callers of TestAdmin_Roles: a key of each role, none.
var adminKeys = []struct {
	name, key string
	role      Role
}{
	{"read", keyRead, RoleRead},
	{"inject", keyInject, RoleInject},
	{"admin", keyAdmin, RoleAdmin},
	{"none", "", ""},
}

// want is the code a caller with role gets from a call that needs need.
func want(role, need Role) codes.Code {
	switch {
	case role == "":
		return codes.Unauthenticated
	case role.allows(need):
		return codes.OK
	}
	return codes.PermissionDenied
}

func TestAdmin_Roles_GRPC(t *testing.T) {
	env := adminServer(t)
	for _, k := range adminKeys {
		for _, c := range adminCalls {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				if k.key != "" {
					ctx = withKey(k.key)
				}
				wantStatus(t, c.grpc(ctx, env), want(k.role, c.need), "")
			})
		}
	}
}

func TestAdmin_Roles_REST(t *testing.T) {
	env := adminServer(t)
	httpCode := map[codes.Code]int{codes.OK: 200, codes.Unauthenticated: 401, codes.PermissionDenied: 403}
	for _, k := range adminKeys {
		for _, c := range adminCalls {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				authz := ""
				if k.key != "" {
					authz = "Bearer " + k.key
				}
				var code int
				var body []byte
				if c.method == "GET" {
					code, body = get(t, env.url+c.path, authz)
				} else {
					code, body = post(t, env.url+c.path, authz, c.restBody())
				}
				wantCode := want(k.role, c.need)
				if code != httpCode[wantCode] {
					t.Fatalf("HTTP %d %s, want %d", code, body, httpCode[wantCode])
				}
				var st restStatus
				if wantCode != codes.OK && (json.Unmarshal(body, &st) != nil || st.Code != int(wantCode)) {
					t.Fatalf("error body %s", body)
				}
			})
		}
	}
}

// TestAdmin_NotRegisteredWithoutAdmin: without Options.Admin the admin
// RPCs are Unimplemented and their REST routes 404.
func TestAdmin_NotRegisteredWithoutAdmin(t *testing.T) {
	env := testServer(t, nil, nil)
	_, err := pb.NewQueuesClient(env.conn).ListQueues(withKey(keyAdmin), &pb.ListQueuesRequest{})
	wantStatus(t, err, codes.Unimplemented, "")
	if code, body := get(t, env.url+"/v1/queues", "Bearer "+keyAdmin); code != http.StatusNotFound {
		t.Fatalf("HTTP %d %s", code, body)
	}
}
