package api

import (
	"log/slog"
	"testing"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// TestInjectBatch_RealEngine_Durable drives the API into a real engine on a
// Pebble spool in a temp dir: what the API reports queued is in the spool.
func TestInjectBatch_RealEngine_Durable(t *testing.T) {
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
	env := testServer(t, nil, func(o *Options) { o.Submitter = eng })
	resp, err := env.client.InjectBatch(withKey(keyInject), &pb.InjectBatchRequest{
		From: "news@shop.example", Recipients: batchOf(200), Content: batchContent,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := eng.SpoolStats(); resp.Queued != 200 || st.Messages != 200 || st.Recipients != 200 {
		t.Fatalf("queued %d; spool %+v", resp.Queued, st)
	}
}

// TestCheckAddress_AgreesWithEngine: every address the API's pre-check
// accepts, the engine accepts, and the other way round.
func TestCheckAddress_AgreesWithEngine(t *testing.T) {
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
	long := string(make([]byte, 65))
	for _, a := range []string{"a@b.test", "a@[127.0.0.1]", "ü@b.test", "", "a", "a@", "@b", "a b@c.test", "<a@b.test>",
		"a@-b.test", "a@b..test", "a@.b", "a@b.", "x" + long + "@b.test", "a@b-.test", "\xff@b.test", "a;b@c.test"} {
		_, engErr := eng.Submit(t.Context(), engine.Envelope{To: []string{a}}, rawMIME)
		if apiErr := checkAddress(a); (apiErr == nil) != (engErr == nil) {
			t.Errorf("%q: api %v, engine %v", a, apiErr, engErr)
		}
	}
}
