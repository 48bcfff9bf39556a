package api

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func TestVmtas_RealEngine_ListShowsDefault(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "b@b.test")
	resp, err := env.vmtas.ListVmtas(withKey(keyRead), &pb.ListVmtasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Vmtas) != 1 || resp.Vmtas[0].Name != "default" || resp.Vmtas[0].Disabled || resp.Vmtas[0].QueuedRecipients != 2 {
		t.Fatalf("vmtas %v", resp.Vmtas)
	}
	code, body := get(t, env.url+"/v1/vmtas", "Bearer "+keyRead)
	if code != 200 || !strings.Contains(string(body), `"name":"default"`) {
		t.Fatalf("REST: %d %s", code, body)
	}
}

func TestVmtas_RealEngine_DisableEnable_PausesItsQueues(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test")
	admin := withKey(keyAdmin)

	v, err := env.vmtas.DisableVmta(admin, &pb.DisableVmtaRequest{Name: "default"})
	if err != nil || v.Name != "default" || !v.Disabled {
		t.Fatalf("disable: %v %v", v, err)
	}
	if q := env.listQueues(t, &pb.ListQueuesRequest{})["default/a.test"]; !q.Paused {
		t.Fatalf("queue of a disabled vmta not paused: %v", q)
	}
	// REST: enable by path.
	code, body := post(t, env.url+"/v1/vmtas/default:enable", "Bearer "+keyAdmin, ``)
	if code != 200 || !strings.Contains(string(body), `"name":"default"`) || strings.Contains(string(body), `"disabled":true`) {
		t.Fatalf("REST enable: %d %s", code, body)
	}
	if q := env.listQueues(t, &pb.ListQueuesRequest{})["default/a.test"]; q.Paused {
		t.Fatalf("queue still paused after enable: %v", q)
	}
}

func TestVmtas_UnknownName_NotFoundNamingIt(t *testing.T) {
	env := adminServer(t)
	_, err := env.vmtas.DisableVmta(withKey(keyAdmin), &pb.DisableVmtaRequest{Name: "ip9"})
	st, _ := status.FromError(err)
	if st.Code() != codes.NotFound || !strings.Contains(st.Message(), `"ip9"`) {
		t.Fatalf("status %v %q", st.Code(), st.Message())
	}
	if len(st.Details()) != 1 || st.Details()[0].(*errdetails.ResourceInfo).GetResourceName() != "ip9" {
		t.Fatalf("details %v", st.Details())
	}
	_, err = env.vmtas.EnableVmta(withKey(keyAdmin), &pb.EnableVmtaRequest{})
	wantStatus(t, err, codes.InvalidArgument, "name")

	code, body := post(t, env.url+"/v1/vmtas/ip9:disable", "Bearer "+keyAdmin, `{}`)
	var rs restStatus
	if err := json.Unmarshal(body, &rs); code != 404 || err != nil || rs.Code != int(codes.NotFound) || !strings.Contains(rs.Message, "ip9") {
		t.Fatalf("REST: %d %s", code, body)
	}
}

func TestPools_RealEngine_ListShowsDefault(t *testing.T) {
	env := adminServer(t)
	resp, err := env.pools.ListPools(withKey(keyRead), &pb.ListPoolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Pools) != 1 || resp.Pools[0].Name != "default" || len(resp.Pools[0].Members) != 1 ||
		resp.Pools[0].Members[0].Vmta != "default" || resp.Pools[0].Members[0].Weight < 1 {
		t.Fatalf("pools %v", resp.Pools)
	}
	if code, body := get(t, env.url+"/v1/pools", "Bearer "+keyRead); code != 200 || !strings.Contains(string(body), `"vmta":"default"`) {
		t.Fatalf("REST: %d %s", code, body)
	}
}
