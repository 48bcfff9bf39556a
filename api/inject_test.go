package api

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func TestInject_RawMIME_OneMessageForAllRecipients(t *testing.T) {
	env := testServer(t, nil, nil)
	resp, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{
		From:       "news@shop.example",
		Recipients: rcpts("a@x.test", "b@y.test"),
		Content:    &pb.Content{RawMime: rawMIME},
		Campaign:   "spring", Tenant: "t1", Vmta: "v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	subs := env.sub.submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions, want 1", len(subs))
	}
	s := subs[0]
	if resp.Id != s.id || len(resp.Recipients) != 2 || resp.Recipients[1].Id != s.id || resp.Recipients[1].State != pb.RecipientStatus_QUEUED {
		t.Fatalf("response %v, submitted id %s", resp, s.id)
	}
	if !bytes.Equal(s.body, rawMIME) || strings.Join(s.env.To, ",") != "a@x.test,b@y.test" ||
		s.env.From != "news@shop.example" || s.env.Campaign != "spring" || s.env.Tenant != "t1" || s.env.VMTA != "v1" {
		t.Fatalf("submitted %+v %q", s.env, s.body)
	}
	if s.env.Source != "api key=injector" {
		t.Errorf("source %q", s.env.Source)
	}
}

func TestInject_Template_RenderedPerRecipientWithVars(t *testing.T) {
	env := testServer(t, nil, nil)
	resp, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{
		From: "news@shop.example", FromName: "Shop",
		Recipients: []*pb.Recipient{
			{Address: "ann@x.test", Vars: map[string]string{"name": "Ann"}},
			{Address: "bob@y.test", Vars: map[string]string{"name": "Bob\r\nBcc: evil@z.test"}},
		},
		Content: &pb.Content{Subject: "Hi {{.name}}", Text: "Hello {{.name}}!", Headers: map[string]string{"X-Campaign": "spring"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subs := env.sub.submissions()
	if len(subs) != 2 || resp.Id != "" {
		t.Fatalf("%d submissions, id %q; want one per recipient and no single id", len(subs), resp.Id)
	}
	byRcpt := map[string]submission{}
	for _, s := range subs {
		byRcpt[s.env.To[0]] = s
	}
	ann := string(byRcpt["ann@x.test"].body)
	for _, want := range []string{"From: \"Shop\" <news@shop.example>\r\n", "To: ann@x.test\r\n", "Subject: Hi Ann\r\n", "X-Campaign: spring\r\n", "Hello Ann!", "@mta.test>"} {
		if !strings.Contains(ann, want) {
			t.Errorf("ann's message lacks %q:\n%s", want, ann)
		}
	}
	if bob, _, _ := strings.Cut(string(byRcpt["bob@y.test"].body), "\r\n\r\n"); strings.Contains(bob, "\r\nBcc:") {
		t.Errorf("a variable added a header:\n%s", bob)
	}
	for i, r := range resp.Recipients {
		if r.State != pb.RecipientStatus_QUEUED || r.Id != byRcpt[r.Address].id {
			t.Errorf("recipients[%d] = %v", i, r)
		}
	}
}

func batchOf(n int) []*pb.Recipient {
	rs := make([]*pb.Recipient, n)
	for i := range rs {
		rs[i] = &pb.Recipient{Address: fmt.Sprintf("user%d@d%d.test", i, i%7), Vars: map[string]string{"n": fmt.Sprint(i)}}
	}
	return rs
}

var batchContent = &pb.Content{Subject: "Offer {{.n}}", Text: "Number {{.n}}", Html: "<p>Number {{.n}}</p>"}

func TestInjectBatch_1000Recipients_EachRenderedAndQueued(t *testing.T) {
	env := testServer(t, nil, nil)
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: batchOf(1000), Content: batchContent,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Queued != 1000 || resp.Rejected != 0 || len(resp.Recipients) != 1000 {
		t.Fatalf("queued %d rejected %d statuses %d", resp.Queued, resp.Rejected, len(resp.Recipients))
	}
	subs := env.sub.submissions()
	if len(subs) != 1000 {
		t.Fatalf("%d submissions", len(subs))
	}
	ids := map[string]submission{}
	for _, s := range subs {
		ids[s.id] = s
	}
	for i, r := range resp.Recipients {
		s, ok := ids[r.Id]
		if !ok || s.env.To[0] != r.Address || r.Address != fmt.Sprintf("user%d@d%d.test", i, i%7) {
			t.Fatalf("recipients[%d] = %v: not the submission %v", i, r, s.env.To)
		}
		if !strings.Contains(string(s.body), fmt.Sprintf("Subject: Offer %d\r\n", i)) {
			t.Fatalf("recipients[%d] got a body for someone else", i)
		}
	}
}

func TestInjectBatch_RawMIME_StoredOncePerMaxRecipients(t *testing.T) {
	env := testServer(t, nil, func(o *Options) { o.MaxRecipients = 400 })
	rs := batchOf(1000)
	for _, r := range rs {
		r.Vars = nil
	}
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: rs, Content: &pb.Content{RawMime: rawMIME},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.sub.submissions()); n != 3 || resp.Queued != 1000 {
		t.Fatalf("%d submissions (want 3 of at most 400), %d queued", n, resp.Queued)
	}
}

func TestInjectBatch_AllOrNothing_BadRecipientQueuesNothing(t *testing.T) {
	env := testServer(t, nil, nil)
	rs := batchOf(1000)
	rs[500].Address = "not-an-address"
	delete(rs[700].Vars, "n") // the template needs it
	_, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: rs, Content: batchContent,
	})
	wantStatus(t, err, codes.InvalidArgument, "recipients[500].address")
	wantStatus(t, err, codes.InvalidArgument, "recipients[700].vars")
	if !strings.Contains(err.Error(), "and 1 more") {
		t.Errorf("error %q does not count the second bad recipient", err)
	}
	if n := len(env.sub.submissions()); n != 0 {
		t.Fatalf("%d messages queued by a rejected all-or-nothing batch", n)
	}
}

func TestInjectBatch_Partial_QueuesGoodAndReportsBad(t *testing.T) {
	env := testServer(t, nil, nil)
	rs := batchOf(100)
	rs[5].Address = "bad@"
	delete(rs[7].Vars, "n")
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: rs, Content: batchContent, Partial: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Queued != 98 || resp.Rejected != 2 || len(env.sub.submissions()) != 98 {
		t.Fatalf("queued %d rejected %d submitted %d", resp.Queued, resp.Rejected, len(env.sub.submissions()))
	}
	if r := resp.Recipients[5]; r.State != pb.RecipientStatus_REJECTED || r.Field != "recipients[5].address" || r.Code != int32(codes.InvalidArgument) {
		t.Errorf("recipients[5] = %v", r)
	}
	if r := resp.Recipients[7]; r.State != pb.RecipientStatus_REJECTED || r.Field != "recipients[7].vars" || !strings.Contains(r.Message, "n") {
		t.Errorf("recipients[7] = %v", r)
	}
}

func TestInjectBatch_AllOrNothing_StorageFailsMidway_ReportsEachRecipientHonestly(t *testing.T) {
	sub := &fakeSubmitter{fail: func(n int, _ engine.Envelope) error {
		if n == 10 {
			return fmt.Errorf("engine: submit: %w", spool.ErrLowSpace)
		}
		return nil
	}}
	env := testServer(t, sub, func(o *Options) { o.SubmitConcurrency = 1 })
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: batchOf(50), Content: batchContent,
	})
	if err != nil {
		t.Fatal(err) // ten were queued: the call reports them rather than failing
	}
	if resp.Queued != 10 || resp.Rejected != 40 || len(sub.submissions()) != 10 {
		t.Fatalf("queued %d rejected %d submitted %d", resp.Queued, resp.Rejected, len(sub.submissions()))
	}
	for i, r := range resp.Recipients {
		want := pb.RecipientStatus_QUEUED
		switch {
		case i == 10:
			want = pb.RecipientStatus_REJECTED
			if r.Code != int32(codes.ResourceExhausted) {
				t.Errorf("recipients[10].code = %d", r.Code)
			}
		case i > 10:
			want = pb.RecipientStatus_NOT_ATTEMPTED
		}
		if r.State != want {
			t.Fatalf("recipients[%d] = %v, want %v", i, r.State, want)
		}
	}
}

func TestInject_BadInput(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2000)
	tests := []struct {
		name  string
		req   *pb.InjectRequest
		fail  error
		code  codes.Code
		field string
	}{
		{"no recipients", &pb.InjectRequest{From: "a@shop.example", Content: &pb.Content{RawMime: rawMIME}}, nil, codes.InvalidArgument, "recipients"},
		{"bad recipient", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("ok@x.test", "a b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, nil, codes.InvalidArgument, "recipients[1].address"},
		{"bad sender", &pb.InjectRequest{From: "<a@shop.example>", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, nil, codes.InvalidArgument, "from"},
		{"no content", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test")}, nil, codes.InvalidArgument, "content"},
		{"template syntax", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{Subject: "Hi {{.name", Text: "x"}}, nil, codes.InvalidArgument, "content.subject"},
		{"html syntax", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{Html: "{{if}}"}}, nil, codes.InvalidArgument, "content.html"},
		{"missing var", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{Text: "Hi {{.name}}"}}, nil, codes.InvalidArgument, "recipients[0].vars"},
		{"raw and template", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME, Text: "x"}}, nil, codes.InvalidArgument, "content"},
		{"raw too large", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: append(append([]byte{}, rawMIME...), big...)}}, nil, codes.InvalidArgument, "content.raw_mime"},
		{"template too large", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{Text: string(big)}}, nil, codes.InvalidArgument, "content"},
		{"engine too large", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, fmt.Errorf("%w: 99 bytes", engine.ErrTooLarge), codes.InvalidArgument, "content"},
		{"engine invalid", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, fmt.Errorf("%w: recipient 0: nope", engine.ErrInvalidEnvelope), codes.InvalidArgument, "recipients[0]"},
		{"low space", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, fmt.Errorf("engine: submit: %w", spool.ErrLowSpace), codes.ResourceExhausted, ""},
		{"storage", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}}, errStorage, codes.Unavailable, ""},
		{"long idempotency key", &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}, IdempotencyKey: strings.Repeat("k", 257)}, nil, codes.InvalidArgument, "idempotency_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := &fakeSubmitter{fail: func(int, engine.Envelope) error { return tc.fail }}
			env := testServer(t, sub, func(o *Options) { o.MaxMessageBytes = 1000 })
			_, err := env.client.Inject(withKey(keyInject), tc.req)
			wantStatus(t, err, tc.code, tc.field)
			if n := len(sub.submissions()); n != 0 {
				t.Fatalf("%d messages queued by a rejected request", n)
			}
		})
	}
}

func TestInject_TooManyRecipients(t *testing.T) {
	env := testServer(t, nil, func(o *Options) { o.MaxRecipients = 3 })
	_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{
		From: "a@shop.example", Recipients: rcpts("a@x.test", "b@x.test", "c@x.test", "d@x.test"), Content: &pb.Content{RawMime: rawMIME},
	})
	wantStatus(t, err, codes.InvalidArgument, "recipients")
}

func TestInject_Canceled_NothingReported(t *testing.T) {
	sub := &fakeSubmitter{gate: make(chan struct{})}
	env := testServer(t, sub, nil)
	ctx, cancel := context.WithCancel(withKey(keyInject))
	cancel()
	_, err := env.client.Inject(ctx, &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}})
	wantStatus(t, err, codes.Canceled, "")
}

// Reliability row 23: a display name or a header variable cannot add a
// header field. A From name with a line break refuses the request (nothing
// queued); anything else, encoded-words included, is quoted or encoded into
// its own field. (Vars in the Subject and text: the test above; every
// shape, fuzzed: compose.FuzzRender.)
func TestReliability23_HeaderInjectionThroughAPI_RefusedOrEncoded(t *testing.T) {
	env := testServer(t, nil, nil)
	noInjectedField := func(what string) {
		t.Helper()
		subs := env.sub.submissions()
		head, _, _ := strings.Cut(string(subs[len(subs)-1].body), "\r\n\r\n")
		if strings.Contains(strings.ToLower(head), "\r\nbcc:") {
			t.Fatalf("%s added a header:\n%s", what, head)
		}
	}
	for _, tc := range []struct {
		name    string
		refused bool
	}{
		{"Shop\r\nBcc: evil@z.test", true},
		{"Shop\nBcc: evil@z.test", true},
		{"Shop\u2028Bcc: evil@z.test", true},
		{"=?utf-8?q?Shop=0D=0ABcc:_evil@z.test?=", false}, // quoted: an encoded-word in a quoted-string is text
	} {
		before := len(env.sub.submissions())
		_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{
			From: "news@shop.example", FromName: tc.name, Recipients: rcpts("ann@x.test"),
			Content: &pb.Content{Subject: "Hi", Text: "Hello"},
		})
		switch {
		case tc.refused && (status.Code(err) != codes.InvalidArgument || len(env.sub.submissions()) != before):
			t.Fatalf("from_name %q: err %v, want InvalidArgument and nothing queued", tc.name, err)
		case !tc.refused && err != nil:
			t.Fatalf("from_name %q: %v", tc.name, err)
		case !tc.refused:
			noInjectedField("from_name " + tc.name)
		}
	}
	for _, v := range []string{"x\r\nBcc: evil@z.test", "=?utf-8?q?x=0D=0ABcc:_evil@z.test?=", "x\u2028Bcc: evil@z.test"} {
		_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{
			From: "news@shop.example", Recipients: []*pb.Recipient{{Address: "bob@y.test", Vars: map[string]string{"v": v}}},
			Content: &pb.Content{Subject: "S {{.v}}", Text: "T", Headers: map[string]string{"X-Tag": "{{.v}}"}},
		})
		if err != nil {
			t.Fatalf("var %q: %v", v, err)
		}
		noInjectedField("var " + v)
	}
}
