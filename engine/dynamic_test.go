package engine

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/configs"
)

func hasVMTA(e *Engine, name string) (VMTAInfo, bool) {
	for _, v := range e.VMTAs() {
		if v.Name == name {
			return v, true
		}
	}
	return VMTAInfo{}, false
}

func hasPool(e *Engine, name string) (PoolInfo, bool) {
	for _, p := range e.Pools() {
		if p.Name == name {
			return p, true
		}
	}
	return PoolInfo{}, false
}

func TestDynamic_UpsertPersistDelete(t *testing.T) {
	ctx := context.Background()
	e, cfg := testEngine(t, func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{{Name: "filev", SourceIP: "127.0.0.1", HELO: "file.test"}}
	})
	if err := e.UpsertVMTA(ctx, configs.VMTA{Name: "api1", SourceIP: "127.0.0.8", HELO: "api1.test"}); err != nil {
		t.Fatal(err)
	}
	if err := e.UpsertPool(ctx, configs.Pool{Name: "p1", Members: []configs.PoolMember{{VMTA: "api1", Weight: 3}, {VMTA: "filev"}}}); err != nil {
		t.Fatal(err)
	}
	if v, ok := hasVMTA(e, "api1"); !ok || v.SourceIP != "127.0.0.8" || v.HELO != "api1.test" {
		t.Fatalf("vmta not listed: %+v", e.VMTAs())
	}
	if p, ok := hasPool(e, "p1"); !ok || len(p.Members) != 2 || p.Members[0].Weight != 3 {
		t.Fatalf("pool not listed: %+v", e.Pools())
	}
	// A reload of the file keeps what the API defined.
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok := hasPool(e, "p1"); !ok {
		t.Fatalf("pool lost on reload: %+v", e.Pools())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened on the same spool: still there.
	e, err := New(cfg, Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler), Clock: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := hasVMTA(e, "api1"); !ok {
		t.Fatalf("vmta not persisted: %+v", e.VMTAs())
	}
	if _, ok := hasPool(e, "p1"); !ok {
		t.Fatalf("pool not persisted: %+v", e.Pools())
	}

	// The vmta is in use: deleting it first is refused.
	if err := e.DeleteVMTA(ctx, "api1"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("delete of a vmta a pool names: %v", err)
	}
	if err := e.DeletePool(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteVMTA(ctx, "api1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := hasPool(e, "p1"); ok {
		t.Fatal("deleted pool still listed")
	}
	if v, ok := hasVMTA(e, "api1"); ok && !v.Removed {
		t.Fatalf("deleted vmta not removed: %+v", v)
	}
	if err := e.DeleteVMTA(ctx, "filev"); !errors.Is(err, ErrDefinedInFile) {
		t.Fatalf("delete of a file vmta: %v", err)
	}
	if err := e.DeletePool(ctx, "nope"); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("delete of an unknown pool: %v", err)
	}
	if err := e.DeleteVMTA(ctx, "nope"); !errors.Is(err, ErrUnknownVMTA) {
		t.Fatalf("delete of an unknown vmta: %v", err)
	}

	// Invalid input is refused and nothing is stored.
	for _, v := range []configs.VMTA{
		{Name: "bad", SourceIP: "192.0.2.99", HELO: "bad.test"}, // not on this host
		{Name: "bad", SourceIP: "not-an-ip", HELO: "bad.test"},
		{Name: "bad/x", SourceIP: "127.0.0.9", HELO: "bad.test"},
		{Name: "bad", SourceIP: "127.0.0.9"},
	} {
		err := e.UpsertVMTA(ctx, v)
		var ce *configs.Error
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &ce) {
			t.Fatalf("%+v: %v", v, err)
		}
	}
	if err := e.UpsertPool(ctx, configs.Pool{Name: "p2", Members: []configs.PoolMember{{VMTA: "ghost"}}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("pool naming an unknown vmta: %v", err)
	}
	if _, ok := hasVMTA(e, "bad"); ok {
		t.Fatal("refused vmta listed")
	}
	recs, err := e.spool.ListRecords("cfg")
	if err != nil || len(recs) != 0 {
		t.Fatalf("records left: %q, %v", recs, err)
	}
}

func TestDynamic_ReplacesFileVMTA(t *testing.T) {
	ctx := context.Background()
	e, _ := testEngine(t, func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{{Name: "filev", SourceIP: "127.0.0.1", HELO: "file.test"}}
	})
	defer e.Close()
	if err := e.UpsertVMTA(ctx, configs.VMTA{Name: "filev", SourceIP: "127.0.0.8", HELO: "api.test"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := hasVMTA(e, "filev"); v.SourceIP != "127.0.0.8" || v.HELO != "api.test" {
		t.Fatalf("not replaced: %+v", v)
	}
	// Deleting the API's version brings the file's back.
	if err := e.DeleteVMTA(ctx, "filev"); err != nil {
		t.Fatal(err)
	}
	if v, _ := hasVMTA(e, "filev"); v.SourceIP != "127.0.0.1" || v.Removed {
		t.Fatalf("file vmta not back: %+v", v)
	}
}
