package api

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func TestKeys_CreateUseListDelete_PersistedInTheSpool(t *testing.T) {
	eng := newTestEngine(t)
	env := testServer(t, nil, func(o *Options) { o.Submitter, o.Admin, o.KeyStore = eng, eng, eng.APIKeys() })
	keys := pb.NewKeysClient(env.conn)

	if _, err := keys.CreateKey(withKey(keyInject), &pb.CreateKeyRequest{Name: "crm", Role: "inject"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("inject key creating a key: %v", err)
	}
	made, err := keys.CreateKey(withKey(keyAdmin), &pb.CreateKeyRequest{Name: "crm", Role: "inject", SenderDomains: []string{"shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Inject(withKey(made.GetKey()), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("a@a.test"), Content: &pb.Content{RawMime: rawMIME}}); err != nil {
		t.Fatalf("inject with the new key: %v", err)
	}
	if _, err := env.client.Inject(withKey(made.GetKey()), &pb.InjectRequest{From: "x@other.example",
		Recipients: rcpts("a@a.test"), Content: &pb.Content{RawMime: rawMIME}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("sender outside the new key's domains: %v", err)
	}
	if _, err := keys.CreateKey(withKey(keyAdmin), &pb.CreateKeyRequest{Name: "crm", Role: "read"}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := keys.CreateKey(withKey(keyAdmin), &pb.CreateKeyRequest{Name: "x", Role: "root"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad role: %v", err)
	}
	list, err := keys.ListKeys(withKey(keyAdmin), &pb.ListKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{}
	for _, k := range list.GetKeys() {
		sources[k.GetName()] = k.GetSource()
	}
	if sources["crm"] != "api" || sources["ops"] != "config" {
		t.Fatalf("keys %v", sources)
	}
	// A new API server over the same spool (a restart) knows the key.
	again := testServer(t, nil, func(o *Options) { o.Submitter, o.Admin, o.KeyStore = eng, eng, eng.APIKeys() })
	if _, err := again.client.Inject(withKey(made.GetKey()), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("b@a.test"), Content: &pb.Content{RawMime: rawMIME}}); err != nil {
		t.Fatalf("the stored key after a restart: %v", err)
	}
	if _, err := keys.DeleteKey(withKey(keyAdmin), &pb.DeleteKeyRequest{Name: "ops"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("deleting a config key: %v", err)
	}
	if _, err := keys.DeleteKey(withKey(keyAdmin), &pb.DeleteKeyRequest{Name: "crm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.Inject(withKey(made.GetKey()), &pb.InjectRequest{From: "news@shop.example",
		Recipients: rcpts("c@a.test"), Content: &pb.Content{RawMime: rawMIME}}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a deleted key: %v", err)
	}
}

func TestInject_UnknownPoolOrVMTA_InvalidArgumentNamingTheField(t *testing.T) {
	eng := newTestEngine(t)
	env := testServer(t, nil, func(o *Options) { o.Submitter, o.Admin = eng, eng })
	for field, req := range map[string]*pb.InjectRequest{
		"pool": {From: "news@shop.example", Pool: "nope", Recipients: rcpts("a@a.test"), Content: &pb.Content{RawMime: rawMIME}},
		"vmta": {From: "news@shop.example", Vmta: "nope", Recipients: rcpts("a@a.test"), Content: &pb.Content{RawMime: rawMIME}},
	} {
		_, err := env.client.Inject(withKey(keyInject), req)
		if status.Code(err) != codes.InvalidArgument || fieldOf(status.Convert(err)) != field {
			t.Errorf("unknown %s: %v (field %q)", field, err, fieldOf(status.Convert(err)))
		}
	}
}
