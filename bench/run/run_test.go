package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/scenarios"
)

// sluiceBin is the sluice binary TestMain builds for the end-to-end tests,
// or $SLUICE_BIN when set (a binary already built, e.g. by make).
var sluiceBin = os.Getenv("SLUICE_BIN")

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if sluiceBin != "" {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "sluice-bench-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := buildSluice(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// buildSluice builds ./cmd/sluice from the module root into dir.
func buildSluice(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	sluiceBin = filepath.Join(dir, "sluice")
	cmd := exec.Command("go", "build", "-o", sluiceBin, "./cmd/sluice")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sluice: %w\n%s", err, out)
	}
	return nil
}

// runScenario runs sc against a fresh server from sluiceBin, bounded by
// the test's time.
func runScenario(t *testing.T, sc scenarios.Scenario) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, sc, Options{Bin: sluiceBin, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "delivered") {
		t.Errorf("no progress line drawn: %q", progress.String())
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	return rep
}

func TestRun_TinyScenario_EveryRecipientDeliveredOnce(t *testing.T) {
	rep := runScenario(t, scenarios.Scenario{
		Name: "tiny", Count: 200, Size: "2KB", Rcpts: 2, Domains: 10, Concurrency: 4, PerConn: 20,
		Timeout: 20 * time.Second,
	})
	if rep.TimedOut || rep.Messages != 200 || rep.Injected != 400 {
		t.Fatalf("timed out %v, messages %d, injected %d; want 200 messages, 400 recipients",
			rep.TimedOut, rep.Messages, rep.Injected)
	}
	if rep.Delivered != rep.Injected || rep.Duplicates != 0 || rep.Bounced != 0 || rep.Deferred != 0 || !rep.Correct {
		t.Errorf("delivered %d bounced %d deferred %d duplicates %d correct %v; want all 400 delivered once",
			rep.Delivered, rep.Bounced, rep.Deferred, rep.Duplicates, rep.Correct)
	}
	if rep.LatencySamples == 0 || rep.LatencyP99Ms <= 0 || rep.LatencyP50Ms > rep.LatencyP99Ms {
		t.Errorf("latency: %d samples, p50 %.2f p99 %.2f ms", rep.LatencySamples, rep.LatencyP50Ms, rep.LatencyP99Ms)
	}
	if rep.DeliveredPerS <= 0 || rep.PeakRSSBytes <= 0 || rep.CPUSeconds <= 0 {
		t.Errorf("delivered/s %.1f peak rss %d cpu %.2f s: want all positive",
			rep.DeliveredPerS, rep.PeakRSSBytes, rep.CPUSeconds)
	}
	var sum int64
	for _, n := range rep.Arrivals {
		sum += n
	}
	if sum != rep.Delivered {
		t.Errorf("arrivals add up to %d, want %d", sum, rep.Delivered)
	}
	if rep.Backlog != nil {
		t.Errorf("backlog %+v for a scenario without release", rep.Backlog)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"injected"`, `"delivered"`, `"bounced"`, `"deferred"`, `"duplicates"`,
		`"delivered_per_s"`, `"latency_p99_ms"`, `"peak_rss_bytes"`, `"cpu_s_per_1k"`} {
		if !strings.Contains(js.String(), k) {
			t.Errorf("JSON report has no %s", k)
		}
	}
}

func TestRun_Release_DeferredBacklogDrainsAfterRelease(t *testing.T) {
	rep := runScenario(t, scenarios.Scenario{
		Name: "tiny-backlog", Count: 40, Size: "1KB", Rcpts: 5, Domains: 2, Concurrency: 4,
		LocalPart: "defer", Release: true, Timeout: 25 * time.Second,
		Engine: map[string]any{"delivery": map[string]any{"retry_after": []string{"1s"}}},
	})
	if rep.Delivered != 200 || rep.Duplicates != 0 || !rep.Correct {
		t.Errorf("delivered %d duplicates %d correct %v, want 200 0 true", rep.Delivered, rep.Duplicates, rep.Correct)
	}
	b := rep.Backlog
	if b == nil || b.RSSQueuedBytes <= 0 || b.RSSBeforeBytes <= 0 || b.DrainSeconds <= 0 || b.QueuedSeconds <= 0 {
		t.Errorf("backlog %+v, want RSS before and queued, and both times", b)
	}
}

func TestRun_BadBinary_ErrorSaysWhy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Run(ctx, scenarios.Scenario{Name: "x", Count: 1}, Options{Bin: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "start") {
		t.Errorf("Run with a missing binary = %v, want a start error", err)
	}
}

func TestRun_Realistic_DefersBouncesThrottlesAndDeadMXAccounted(t *testing.T) {
	sc, err := scenarios.Load("realistic")
	if err != nil {
		t.Fatal(err)
	}
	sc.Count, sc.Concurrency, sc.Timeout = 300, 4, 35*time.Second
	rep := runScenario(t, sc)
	if rep.TimedOut || rep.Injected != 300 {
		t.Fatalf("timed out %v, injected %d; want 300 in time", rep.TimedOut, rep.Injected)
	}
	// Recipient n goes to d<n mod 1000>: only recipient 0 is at the dead d0.
	if rep.DeadMXRecipients != 1 || rep.Deferred < 1 {
		t.Errorf("dead-MX recipients %d, deferred %d; want 1 and at least that one", rep.DeadMXRecipients, rep.Deferred)
	}
	if rep.Bounced == 0 || rep.SinkByCode["451"] == 0 || rep.SinkByCode["421"] == 0 || rep.SinkByCode["550"] != rep.Bounced {
		t.Errorf("bounced %d, sink replies %v; want 451s, 421s and a 550 per bounce", rep.Bounced, rep.SinkByCode)
	}
	if !rep.Correct || rep.Duplicates != 0 || rep.Delivered+rep.Bounced+rep.Deferred != rep.Injected {
		t.Errorf("delivered %d + bounced %d + deferred %d != injected %d, or duplicates %d",
			rep.Delivered, rep.Bounced, rep.Deferred, rep.Injected, rep.Duplicates)
	}
	if rep.Fsyncs <= 0 || rep.WriteBytes <= 0 || len(rep.Timeline) == 0 {
		t.Errorf("fsyncs %d, written %d, timeline %d points: want all positive", rep.Fsyncs, rep.WriteBytes, len(rep.Timeline))
	}
}

func TestRun_Crash_KillNineMidRun_NoAcknowledgedRecipientLost(t *testing.T) {
	sc, err := scenarios.Load("crash")
	if err != nil {
		t.Fatal(err)
	}
	sc.Count, sc.Concurrency, sc.CrashAfter, sc.Timeout = 1000, 4, "30%", 30*time.Second
	rep := runScenario(t, sc)
	c := rep.Crash
	if c == nil {
		t.Fatal("no crash in the report")
	}
	if rep.TimedOut || !rep.Correct || c.Lost != 0 || c.AckedBeforeKill == 0 || c.Acked != rep.Injected || c.DeliveredAcked != c.Acked {
		t.Errorf("crash %+v, timed out %v, correct %v: want every acked recipient delivered", *c, rep.TimedOut, rep.Correct)
	}
	if rep.Messages+rep.InjectFailed != 1000 {
		t.Errorf("messages %d + failed %d, want 1000 tried", rep.Messages, rep.InjectFailed)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"lost": 0`) {
		t.Errorf("JSON report has no lost count:\n%s", js.String())
	}
}

func TestRun_GRPCBatch_EveryRecipientDeliveredOnce(t *testing.T) {
	rep := runScenario(t, scenarios.Scenario{
		Name: "tiny-grpc", Count: 100, Size: "1KB", Rcpts: 2, Domains: 10, Concurrency: 2,
		Inject: scenarios.InjectGRPCBatch, BatchSize: 50, Timeout: 20 * time.Second,
	})
	if rep.Inject != "grpc-batch" || rep.Injected != 200 || rep.Messages != 100 || rep.InjectFailed != 0 {
		t.Fatalf("inject %s: injected %d recipients, %d messages, %d failed; want 200, 100, 0",
			rep.Inject, rep.Injected, rep.Messages, rep.InjectFailed)
	}
	if !rep.Correct || rep.Delivered != 200 || rep.Duplicates != 0 {
		t.Errorf("delivered %d duplicates %d correct %v; want 200 once each", rep.Delivered, rep.Duplicates, rep.Correct)
	}
}
