package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func do(t *testing.T, method, url, authz, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestDynamic_RealEngine_PutListDelete(t *testing.T) {
	env := adminServer(t)
	admin := withKey(keyAdmin)

	v, err := env.vmtas.PutVmta(admin, &pb.PutVmtaRequest{Name: "ip8", SourceIp: "127.0.0.8", Helo: "ip8.test"})
	if err != nil || v.Name != "ip8" || v.SourceIp != "127.0.0.8" || v.Helo != "ip8.test" {
		t.Fatalf("put vmta: %v %v", v, err)
	}
	p, err := env.pools.PutPool(admin, &pb.PutPoolRequest{Name: "bulk", Members: []*pb.PoolMember{{Vmta: "ip8", Weight: 2}}})
	if err != nil || p.Name != "bulk" || len(p.Members) != 1 || p.Members[0].Weight != 2 {
		t.Fatalf("put pool: %v %v", p, err)
	}
	ps, err := env.pools.ListPools(withKey(keyRead), &pb.ListPoolsRequest{})
	if err != nil || !strings.Contains(ps.String(), "bulk") {
		t.Fatalf("list pools: %v %v", ps, err)
	}
	// REST: replace the vmta's HELO by PUT.
	code, body := do(t, "PUT", env.url+"/v1/vmtas/ip8", "Bearer "+keyAdmin, `{"source_ip":"127.0.0.8","helo":"other.test"}`)
	if code != 200 || !strings.Contains(string(body), `"helo":"other.test"`) {
		t.Fatalf("REST put: %d %s", code, body)
	}

	// Errors.
	_, err = env.vmtas.PutVmta(admin, &pb.PutVmtaRequest{Name: "bad", SourceIp: "192.0.2.99", Helo: "bad.test"})
	wantStatus(t, err, codes.InvalidArgument, "source_ip")
	_, err = env.vmtas.PutVmta(admin, &pb.PutVmtaRequest{Name: "bad", SourceIp: "127.0.0.9"})
	wantStatus(t, err, codes.InvalidArgument, "helo")
	_, err = env.pools.PutPool(admin, &pb.PutPoolRequest{Name: "p", Members: []*pb.PoolMember{{Vmta: "ghost"}}})
	wantStatus(t, err, codes.InvalidArgument, "members[0].vmta")
	_, err = env.vmtas.PutVmta(withKey(keyRead), &pb.PutVmtaRequest{Name: "x", SourceIp: "127.0.0.9", Helo: "x.test"})
	wantStatus(t, err, codes.PermissionDenied, "")
	_, err = env.vmtas.DeleteVmta(admin, &pb.DeleteVmtaRequest{Name: "ip8"}) // the pool names it
	wantStatus(t, err, codes.InvalidArgument, "")
	_, err = env.vmtas.DeleteVmta(admin, &pb.DeleteVmtaRequest{Name: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = env.pools.DeletePool(admin, &pb.DeletePoolRequest{Name: "nope"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = env.pools.DeletePool(admin, &pb.DeletePoolRequest{Name: "default"})
	wantStatus(t, err, codes.FailedPrecondition, "")

	// Delete: the pool, then the vmta (REST), which drains.
	if _, err := env.pools.DeletePool(admin, &pb.DeletePoolRequest{Name: "bulk"}); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, "DELETE", env.url+"/v1/vmtas/ip8", "Bearer "+keyAdmin, ``); code != 200 {
		t.Fatalf("REST delete: %d %s", code, body)
	}
	vs, err := env.vmtas.ListVmtas(withKey(keyRead), &pb.ListVmtasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Vmtas {
		if v.Name == "ip8" && !v.Removed {
			t.Fatalf("deleted vmta not removed: %v", v)
		}
	}
}
