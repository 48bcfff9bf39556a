package api

import (
	"encoding/json"
	"testing"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func TestStats_RealEngine_Totals(t *testing.T) {
	env := adminServer(t)
	env.inject(t, "a@a.test", "b@a.test", "c@b.test")
	s, err := env.stats.GetStats(withKey(keyRead), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Messages != 3 || s.Recipients != 3 || s.ByDomain["a.test"] != 2 || s.ByDomain["b.test"] != 1 ||
		s.ByVmta["default"] != 3 || s.ByPool["default"] != 3 || len(s.ByCampaign) != 0 || s.BodyBytes < 3*int64(len(rawMIME)) {
		t.Fatalf("stats %v", s)
	}

	// REST: 64-bit counts are JSON strings (proto3 JSON mapping).
	code, body := get(t, env.url+"/v1/stats", "Bearer "+keyRead)
	var out struct {
		Messages, Recipients string
		ByDomain             map[string]string `json:"by_domain"`
	}
	if err := json.Unmarshal(body, &out); code != 200 || err != nil || out.Messages != "3" || out.Recipients != "3" || out.ByDomain["a.test"] != "2" {
		t.Fatalf("REST: %d %s (%v)", code, body, err)
	}
}

func TestStats_RealEngine_ByCampaign(t *testing.T) {
	env := adminServer(t)
	env.injectCampaign(t, "black-friday", "a@a.test", "b@b.test")
	env.inject(t, "c@c.test")
	s, err := env.stats.GetStats(withKey(keyRead), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ByCampaign) != 1 || s.ByCampaign["black-friday"] != 2 || s.ByPool["default"] != 3 {
		t.Fatalf("stats %v", s)
	}
}

func TestStats_RealEngine_ByTenant(t *testing.T) {
	env := adminServer(t)
	if _, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example", Tenant: "acme",
		Recipients: rcpts("a@a.test"), Content: &pb.Content{RawMime: rawMIME}}); err != nil {
		t.Fatal(err)
	}
	env.inject(t, "b@b.test")
	s, err := env.stats.GetStats(withKey(keyRead), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ByTenant) != 1 || s.ByTenant["acme"] != 1 {
		t.Fatalf("by tenant %v", s.ByTenant)
	}
}
