package api

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// fbEnv is adminServer with the Feedback and Suppressions clients.
type fbEnv struct {
	*adminEnv
	fb    pb.FeedbackClient
	suppr pb.SuppressionsClient
}

func feedbackServer(t *testing.T) *fbEnv {
	t.Helper()
	a := adminServer(t)
	return &fbEnv{adminEnv: a, fb: pb.NewFeedbackClient(a.conn), suppr: pb.NewSuppressionsClient(a.conn)}
}

// listAll pages through ListSuppressions (page_size 2) over gRPC and
// returns "scope/address" of each entry.
func (e *fbEnv) listAll(t *testing.T, scope *string) []string {
	t.Helper()
	var out []string
	tok := ""
	for range 100 {
		resp, err := e.suppr.ListSuppressions(withKey(keyRead), &pb.ListSuppressionsRequest{Scope: scope, PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Suppressions) > 2 {
			t.Fatalf("page of %d", len(resp.Suppressions))
		}
		for _, s := range resp.Suppressions {
			out = append(out, s.Scope+"/"+s.Address)
		}
		if tok = resp.NextPageToken; tok == "" {
			return out
		}
	}
	t.Fatal("no last page")
	return nil
}

func TestSuppressions_RealEngine_AddListPagedRemove(t *testing.T) {
	env := feedbackServer(t)
	admin := withKey(keyAdmin)
	resp, err := env.suppr.AddSuppressions(admin, &pb.AddSuppressionsRequest{Entries: []*pb.Suppression{
		{Address: "C@x.test"}, {Address: "<a@x.test>"}, {Address: "b@x.test", Reason: "asked"},
		{Address: "a@x.test", Scope: "shop.example"}, {Address: "z@x.test", Scope: "Shop.Example"},
	}})
	// Each entry is new to its exact scope (the scoped a@x.test beside the global one too).
	if err != nil || resp.Added != 5 {
		t.Fatalf("add: %v %v", resp, err)
	}
	want := "/a@x.test /b@x.test /c@x.test shop.example/a@x.test shop.example/z@x.test"
	if got := strings.Join(env.listAll(t, nil), " "); got != want {
		t.Fatalf("all scopes, paged:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(env.listAll(t, proto.String("shop.example")), " "); got != "shop.example/a@x.test shop.example/z@x.test" {
		t.Fatalf("one scope: %s", got)
	}
	if got := strings.Join(env.listAll(t, proto.String("")), " "); got != "/a@x.test /b@x.test /c@x.test" {
		t.Fatalf("global: %s", got)
	}
	all, err := env.suppr.ListSuppressions(withKey(keyRead), &pb.ListSuppressionsRequest{})
	if err != nil || len(all.Suppressions) != 5 || all.NextPageToken != "" {
		t.Fatalf("one page: %v %v", all, err)
	}
	if s := all.Suppressions[1]; s.Reason != "asked" || s.Source != "api key ops" || s.CreatedAt == nil {
		t.Fatalf("entry %v", s)
	}

	// REST: a page, then the next by its token.
	code, body := get(t, env.url+"/v1/suppressions?page_size=3", "Bearer "+keyRead)
	var page pb.ListSuppressionsResponse
	if code != 200 || protojson.Unmarshal(body, &page) != nil || len(page.Suppressions) != 3 || page.NextPageToken == "" {
		t.Fatalf("REST page 1: %d %s", code, body)
	}
	code, body = get(t, env.url+"/v1/suppressions?page_size=3&page_token="+url.QueryEscape(page.NextPageToken), "Bearer "+keyRead)
	if code != 200 || !strings.Contains(string(body), `"z@x.test"`) || strings.Contains(string(body), `"b@x.test"`) ||
		strings.Contains(string(body), "next_page_token") {
		t.Fatalf("REST page 2: %d %s", code, body)
	}
	if code, body := get(t, env.url+"/v1/suppressions?page_token=bogus", "Bearer "+keyRead); code != 400 || !strings.Contains(string(body), "page_token") {
		t.Fatalf("REST bad token: %d %s", code, body)
	}

	// Remove: the global entry by REST, a scoped one by gRPC; twice is NotFound.
	if code, body := do(t, "DELETE", env.url+"/v1/suppressions/a@x.test", "Bearer "+keyAdmin, ""); code != 200 {
		t.Fatalf("REST delete: %d %s", code, body)
	}
	if code, body := do(t, "DELETE", env.url+"/v1/suppressions/a@x.test", "Bearer "+keyAdmin, ""); code != 404 || !strings.Contains(string(body), "a@x.test") {
		t.Fatalf("REST delete again: %d %s", code, body)
	}
	if _, err := env.suppr.DeleteSuppression(admin, &pb.DeleteSuppressionRequest{Address: "A@x.test", Scope: "shop.example"}); err != nil {
		t.Fatal(err)
	}
	// An address with a "/" is removed by the body form.
	if _, err := env.suppr.AddSuppressions(admin, &pb.AddSuppressionsRequest{Entries: []*pb.Suppression{{Address: "a/b@x.test"}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, env.url+"/v1/suppressions:delete", "Bearer "+keyAdmin, `{"address": "a/b@x.test"}`); code != 200 {
		t.Fatalf("REST delete by POST: %d %s", code, body)
	}
	_, err = env.suppr.DeleteSuppression(admin, &pb.DeleteSuppressionRequest{Address: "z@x.test"}) // it is scoped
	wantStatus(t, err, codes.NotFound, "")
	if got := strings.Join(env.listAll(t, nil), " "); got != "/b@x.test /c@x.test shop.example/z@x.test" {
		t.Fatalf("after removals: %s", got)
	}
	// The read role lists but does not change.
	_, err = env.suppr.AddSuppressions(withKey(keyRead), &pb.AddSuppressionsRequest{Entries: []*pb.Suppression{{Address: "r@x.test"}}})
	wantStatus(t, err, codes.PermissionDenied, "")
	if code, _ := do(t, "DELETE", env.url+"/v1/suppressions/b@x.test", "Bearer "+keyRead, ""); code != 403 {
		t.Fatalf("REST delete with the read role: %d", code)
	}
}

func TestSuppressions_BadInput_NamesTheField_NothingAdded(t *testing.T) {
	env := feedbackServer(t)
	admin := withKey(keyAdmin)
	_, err := env.suppr.AddSuppressions(admin, &pb.AddSuppressionsRequest{Entries: []*pb.Suppression{
		{Address: "a@x.test"}, {Address: "b@x.test"}, {Address: "c@x.test"}, {Address: "not an address"}, {Address: "e@x.test", Scope: "*"},
	}})
	wantStatus(t, err, codes.InvalidArgument, "entries[3].address")
	wantStatus(t, err, codes.InvalidArgument, "entries[4].scope")
	_, err = env.suppr.AddSuppressions(admin, &pb.AddSuppressionsRequest{})
	wantStatus(t, err, codes.InvalidArgument, "entries")
	code, body := post(t, env.url+"/v1/suppressions", "Bearer "+keyAdmin, `{"entries": [{"address": "ok@x.test"}, {"address": "@x.test"}]}`)
	var rs restStatus
	if err := json.Unmarshal(body, &rs); code != 400 || err != nil || rs.Details[0].FieldViolations[0].Field != "entries[1].address" {
		t.Fatalf("REST: %d %s", code, body)
	}
	_, err = env.suppr.DeleteSuppression(admin, &pb.DeleteSuppressionRequest{Address: "x"})
	wantStatus(t, err, codes.InvalidArgument, "address")
	_, err = env.suppr.ListSuppressions(withKey(keyRead), &pb.ListSuppressionsRequest{PageSize: -1})
	wantStatus(t, err, codes.InvalidArgument, "page_size")
	if n := len(env.eng.Suppressions("*", "", 0)); n != 0 {
		t.Fatalf("%d entries added by refused requests", n)
	}
}

func TestSuppressions_Import_BadLineNamedNothingAdded_ThenGoodFileAdded(t *testing.T) {
	env := feedbackServer(t)
	admin := withKey(keyAdmin)
	bad := "address,scope,reason\na@x.test\nb@x.test,shop.example\n# a comment\nnot-an-address\nd@x.test\n"
	_, err := env.suppr.ImportSuppressions(admin, &pb.ImportSuppressionsRequest{Csv: bad})
	wantStatus(t, err, codes.InvalidArgument, "csv")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "line 5") || !strings.Contains(msg, "not-an-address") {
		t.Fatalf("message does not name the line and address: %q", msg)
	}
	if n := len(env.eng.Suppressions("*", "", 0)); n != 0 {
		t.Fatalf("%d entries added by a failed import", n)
	}
	good := strings.Replace(bad, "not-an-address", "c@x.test,,bounced", 1)
	resp, err := env.suppr.ImportSuppressions(admin, &pb.ImportSuppressionsRequest{Csv: good, Scope: "tenant-1"})
	if err != nil || resp.Added != 4 {
		t.Fatalf("import: %v %v", resp, err)
	}
	got := strings.Join(env.listAll(t, nil), " ")
	if got != "shop.example/b@x.test tenant-1/a@x.test tenant-1/c@x.test tenant-1/d@x.test" {
		t.Fatalf("imported: %s", got)
	}
	// REST, the same file again: nothing new.
	b, _ := json.Marshal(map[string]string{"csv": good, "scope": "tenant-1", "reason": "list-2026"})
	code, body := post(t, env.url+"/v1/suppressions:import", "Bearer "+keyAdmin, string(b))
	if code != 200 || strings.Contains(string(body), `"added"`) {
		t.Fatalf("REST import: %d %s", code, body)
	}
}

func TestSuppressions_SuppressedRecipient_RefusedByInject(t *testing.T) {
	env := feedbackServer(t)
	if _, err := env.suppr.AddSuppressions(withKey(keyAdmin), &pb.AddSuppressionsRequest{
		Entries: []*pb.Suppression{{Address: "gone@b.test", Reason: "asked"}}}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("Gone@b.test"), Content: &pb.Content{RawMime: rawMIME}})
	wantStatus(t, err, codes.InvalidArgument, "recipients[0].address")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "suppression list") || !strings.Contains(msg, "asked") {
		t.Fatalf("message does not say why: %q", msg)
	}
	// Raw content is one message for all its recipients: refused whole, the
	// field naming the suppressed one.
	_, err = env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("a@b.test", "gone@b.test"), Content: &pb.Content{RawMime: rawMIME}})
	wantStatus(t, err, codes.InvalidArgument, "recipients[1].address")
	// Templated content is one message per recipient: the others are queued
	// and the suppressed one is reported on its own.
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{From: "news@shop.example", Partial: true,
		Recipients: rcpts("a@b.test", "gone@b.test", "c@b.test"), Content: &pb.Content{Subject: "s", Text: "t"}})
	if err != nil || resp.Queued != 2 || resp.Recipients[1].State != pb.RecipientStatus_REJECTED ||
		resp.Recipients[1].Field != "recipients[1].address" {
		t.Fatalf("batch: %v %v", resp, err)
	}
	if st := env.eng.SpoolStats(); st.Recipients != 2 {
		t.Fatalf("spool holds %d recipients", st.Recipients)
	}
	// All-or-nothing: refused before anything is stored.
	_, err = env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{From: "news@shop.example",
		Recipients: rcpts("d@b.test", "gone@b.test"), Content: &pb.Content{Subject: "s", Text: "t"}})
	wantStatus(t, err, codes.InvalidArgument, "recipients[1].address")
	if st := env.eng.SpoolStats(); st.Recipients != 2 {
		t.Fatalf("an all-or-nothing batch with a suppressed recipient stored %d", st.Recipients-2)
	}
}

func TestFeedback_ReportComplaint_SuppressesRecipient(t *testing.T) {
	env := feedbackServer(t)
	arf, err := os.ReadFile("../feedback/testdata/arf-yahoo.eml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.fb.ReportFeedback(withKey(keyAdmin), &pb.ReportFeedbackRequest{Kind: "complaint", Message: arf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recipient != "alice.smith@yahoo.com" || !res.Suppressed || res.Status != "abuse" || res.Campaign != "fall-sale-2026" {
		t.Fatalf("result %v", res)
	}
	list, err := env.suppr.ListSuppressions(withKey(keyRead), &pb.ListSuppressionsRequest{})
	if err != nil || len(list.Suppressions) != 1 || list.Suppressions[0].Address != "alice.smith@yahoo.com" ||
		list.Suppressions[0].Reason != "complaint" {
		t.Fatalf("list: %v %v", list, err)
	}
	_, err = env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("alice.smith@yahoo.com"), Content: &pb.Content{RawMime: rawMIME}})
	wantStatus(t, err, codes.InvalidArgument, "recipients[0].address")

	// REST: the report base64 in JSON; a second report changes nothing new.
	b, _ := json.Marshal(map[string]string{"kind": "complaint", "message": base64.StdEncoding.EncodeToString(arf)})
	code, body := post(t, env.url+"/v1/feedback:report", "Bearer "+keyAdmin, string(b))
	if code != 200 || !strings.Contains(string(body), `"suppressed":true`) {
		t.Fatalf("REST: %d %s", code, body)
	}
	// Only admin may report.
	_, err = env.fb.ReportFeedback(withKey(keyInject), &pb.ReportFeedbackRequest{Kind: "complaint", Message: arf})
	wantStatus(t, err, codes.PermissionDenied, "")
}

func TestFeedback_Unreadable_InvalidArgumentAndKept(t *testing.T) {
	env := feedbackServer(t)
	admin := withKey(keyAdmin)
	_, err := env.fb.ReportFeedback(admin, &pb.ReportFeedbackRequest{Kind: "complaint", Message: []byte("Subject: hi\r\n\r\nnot a report\r\n")})
	wantStatus(t, err, codes.InvalidArgument, "message")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "kept for inspection") {
		t.Fatalf("message %q", msg)
	}
	// Requests that are wrong, not reports that are unreadable, are not kept.
	_, err = env.fb.ReportFeedback(admin, &pb.ReportFeedbackRequest{Kind: "praise", Message: []byte("x")})
	wantStatus(t, err, codes.InvalidArgument, "kind")
	_, err = env.fb.ReportFeedback(admin, &pb.ReportFeedbackRequest{Kind: "bounce", Message: []byte("x")})
	wantStatus(t, err, codes.InvalidArgument, "recipient")
	_, err = env.fb.ReportFeedback(admin, &pb.ReportFeedbackRequest{Kind: "bounce", Recipient: "b-x@bounces.test", Message: []byte("x")})
	wantStatus(t, err, codes.InvalidArgument, "recipient") // VERP is off
	_, err = env.fb.ReportFeedback(admin, &pb.ReportFeedbackRequest{Kind: "complaint"})
	wantStatus(t, err, codes.InvalidArgument, "message")

	bad, err := env.fb.ListBadFeedback(withKey(keyRead), &pb.ListBadFeedbackRequest{})
	if err != nil || len(bad.Reports) != 1 {
		t.Fatalf("kept: %v %v", bad, err)
	}
	if r := bad.Reports[0]; r.Kind != "complaint" || r.Error == "" || r.Size == 0 || r.Message != nil || r.ReceivedAt == nil {
		t.Fatalf("report %v", r)
	}
	code, body := get(t, env.url+"/v1/feedback/unreadable?include_messages=true", "Bearer "+keyRead)
	var got pb.ListBadFeedbackResponse
	if code != 200 || protojson.Unmarshal(body, &got) != nil || len(got.Reports) != 1 ||
		!strings.Contains(string(got.Reports[0].Message), "not a report") {
		t.Fatalf("REST: %d %s", code, body)
	}
}

func TestFeedback_Actions_ListLiftErrors(t *testing.T) {
	env := feedbackServer(t)
	list, err := env.fb.ListActions(withKey(keyRead), &pb.ListActionsRequest{})
	if err != nil || len(list.Actions) != 0 {
		t.Fatalf("actions of an idle engine: %v %v", list, err)
	}
	admin := withKey(keyAdmin)
	_, err = env.fb.LiftAction(admin, &pb.LiftActionRequest{Vmta: "default"})
	wantStatus(t, err, codes.NotFound, "")
	_, err = env.fb.LiftAction(admin, &pb.LiftActionRequest{Vmta: "default", Kind: "nap"})
	wantStatus(t, err, codes.InvalidArgument, "kind")
	_, err = env.fb.LiftAction(admin, &pb.LiftActionRequest{})
	wantStatus(t, err, codes.InvalidArgument, "vmta")
	_, err = env.fb.LiftAction(withKey(keyRead), &pb.LiftActionRequest{Vmta: "default"})
	wantStatus(t, err, codes.PermissionDenied, "")
	code, body := post(t, env.url+"/v1/actions:lift", "Bearer "+keyAdmin, `{"vmta": "default", "kind": "suspend"}`)
	if code != 404 || !strings.Contains(string(body), `kind \"suspend\"`) {
		t.Fatalf("REST: %d %s", code, body)
	}
}
