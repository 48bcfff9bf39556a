package run

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/peers"
	"github.com/sluice-mta/sluice/bench/scenarios"
)

func TestNewRatios(t *testing.T) {
	pf := &Row{DeliveredPerS: 500, CPUSPer1k: 4}
	for _, tc := range []struct {
		name      string
		rate, cpu float64
		postfix   *Row
		limit     float64
		want      Ratios
	}{
		{"all measured", 3000, 1, pf, 12000, Ratios{OverPostfix: 6, OverLimit: 0.25, OverHalfLimit: 0.5, CPUOverPostfix: 0.25}},
		{"no postfix", 3000, 1, nil, 12000, Ratios{OverLimit: 0.25, OverHalfLimit: 0.5}},
		{"postfix without cpu", 3000, 1, &Row{DeliveredPerS: 500}, 0, Ratios{OverPostfix: 6}},
		{"nothing to compare with", 3000, 1, nil, 0, Ratios{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newRatios(tc.rate, tc.cpu, tc.postfix, tc.limit); got != tc.want {
				t.Errorf("newRatios(%v, %v, %+v, %v) = %+v, want %+v", tc.rate, tc.cpu, tc.postfix, tc.limit, got, tc.want)
			}
		})
	}
}

func TestDeliveryLimits_ScenarioOverridesOrSluiceDefaults(t *testing.T) {
	lim, err := deliveryLimits(nil)
	if err != nil || lim != (DeliveryLimits{Connections: 20, MsgsPerConn: 1000, RcptsPerMsg: 100}) {
		t.Errorf("deliveryLimits(nil) = %+v, %v; want Sluice's defaults 20/1000/100", lim, err)
	}
	engine := map[string]any{"delivery": map[string]any{"max_smtp_out": 5, "retry_after": []any{"1s"}}}
	lim, err = deliveryLimits(engine)
	if err != nil || lim != (DeliveryLimits{Connections: 5, MsgsPerConn: 1000, RcptsPerMsg: 100}) {
		t.Errorf("deliveryLimits(max_smtp_out 5) = %+v, %v", lim, err)
	}
	got := withLimits(engine, lim)
	want := map[string]any{"delivery": map[string]any{"max_smtp_out": 5, "max_msg_per_connection": 1000,
		"max_rcpt_per_msg": 100, "retry_after": []any{"1s"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withLimits = %v, want %v", got, want)
	}
	if _, ok := engine["delivery"].(map[string]any)["max_rcpt_per_msg"]; ok {
		t.Error("withLimits changed the scenario's own map")
	}
	_, err = deliveryLimits(map[string]any{"delivery": map[string]any{"max_smtp_out": "lots"}})
	if err == nil || !strings.Contains(err.Error(), "engine.delivery.max_smtp_out") {
		t.Errorf("deliveryLimits(max_smtp_out: lots) = %v, want an error naming the key", err)
	}
}

func TestSourceArgs_SameLoadForEveryRow(t *testing.T) {
	sc := scenarios.Scenario{Name: "x", Count: 500, Size: "100KB", Rcpts: 3, Concurrency: 7}
	sc.SetDefaults()
	got := strings.Join(sourceArgs(sc, "127.0.0.1:25"), " ")
	want := "-d -N -s 7 -m 500 -l 102400 -f bench@sluice.test -t user@d0.test -r 3 127.0.0.1:25"
	if got != want {
		t.Errorf("sourceArgs = %q\nwant          %q", got, want)
	}
}

// sampleComparison is a comparison with round numbers.
func sampleComparison() *Comparison {
	row := func(system string, perS, cpu float64) Row {
		return Row{System: system, Messages: 1000, Recipients: 1000, Complete: true, DeliverSeconds: 1000 / perS,
			InjectSeconds: 1000 / perS, DeliveredPerS: perS, CPUSeconds: cpu, CPUSPer1k: cpu}
	}
	pf := row("postfix 3.7.11", 500, 4)
	c := &Comparison{Scenario: "small", Messages: 1000, SizeBytes: 1024, RcptsPerMsg: 1, Sessions: 20,
		Limits: DeliveryLimits{20, 1000, 100}, Limit: row("loopback limit", 12000, 0), Postfix: &pf,
		SluiceSource: row("sluice", 3000, 1),
		Sluice:       &Report{Scenario: "small", DeliveredPerS: 4200, Delivered: 1000, Injected: 1000, Correct: true, RcptsPerMsg: 1}}
	c.Ratios = newRatios(3000, 1, &pf, 12000)
	c.OwnInjector = newRatios(4200, 2, &pf, 12000)
	return c
}

func TestComparison_WriteTable_EveryRowAndTheRatios(t *testing.T) {
	var b bytes.Buffer
	if err := sampleComparison().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"compare small: 1000 msgs x 1 rcpt of 1.0 KiB over 20 sessions",
		"20 connections, 1000 msgs/conn, 100 rcpts/msg",
		"loopback limit", "postfix 3.7.11", "sluice (scenario)",
		"sluice (smtp-source): 6.00x Postfix, 25.0% of the loopback limit, 50.0% of half of it; CPU per message 0.25x Postfix's",
		"sluice (scenario):    8.40x Postfix, 35.0% of the loopback limit, 70.0% of half of it; CPU per message 0.50x Postfix's",
		"load average",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table has no %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "postfix") && !(strings.Contains(line, " 500 ") && strings.Contains(line, "4.000")) {
			t.Errorf("postfix row %q lacks its 500 msgs/s or 4.000 CPU s per 1,000", line)
		}
	}
}

func TestComparison_WriteTable_MarksAnIncompleteRow(t *testing.T) {
	c := sampleComparison()
	c.Postfix.Complete, c.Postfix.Recipients = false, 990
	c.SluiceSource.Duplicates = 2
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "990 INCOMPLETE") || !strings.Contains(b.String(), "2 DUPLICATES") {
		t.Errorf("table does not flag the incomplete and the duplicated rows:\n%s", b.String())
	}
	if c.Correct() {
		t.Error("Correct() with an incomplete Postfix row")
	}
}

func TestComparison_JSONHasEveryRowAndRatio(t *testing.T) {
	var b bytes.Buffer
	if err := sampleComparison().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loopback_limit", "postfix", "sluice_smtp_source", "sluice", "ratios",
		"own_injector_ratios", "delivery_limits", "load_avg_start", "load_avg_end"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, b.String())
		}
	}
	r := got["ratios"].(map[string]any)
	if r["over_postfix"] != 6.0 || r["over_limit"] != 0.25 || r["over_half_limit"] != 0.5 || r["cpu_over_postfix"] != 0.25 {
		t.Errorf("ratios = %v", r)
	}
}

func TestTreeCPUSeconds_CountsWaitedForChildren(t *testing.T) {
	before, err := treeCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A child that burns CPU, then is waited for: its time moves into ours.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	childCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, err := treeCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Clock ticks are 10 ms: allow two either way, plus our own CPU since.
	if d := after - before; d+0.02 < childCPU.Seconds() || d > childCPU.Seconds()+time.Since(start).Seconds()+0.02 {
		t.Errorf("tree CPU grew by %.2f s; the child used %.2f s", d, childCPU.Seconds())
	}
	if _, err := treeCPUSeconds(-1); err == nil {
		t.Error("treeCPUSeconds(-1) succeeded")
	}
}

func TestCompare_WithPostfix_EveryRowDeliversEverything(t *testing.T) {
	if _, err := os.Stat(DefaultSMTPSource); err != nil {
		t.Skipf("no smtp-source (install Postfix: make bench-deps): %v", err)
	}
	co := CompareOptions{SMTPSource: DefaultSMTPSource, Postfix: true}
	if err := peers.Check(); err != nil {
		t.Logf("comparing without Postfix: %v", err)
		co.Postfix = false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sc := scenarios.Scenario{Name: "tiny-compare", Count: 200, Size: "2KB", Rcpts: 2, Domains: 10,
		Concurrency: 4, PerConn: 20, Timeout: 30 * time.Second,
		Engine: map[string]any{"delivery": map[string]any{"max_smtp_out": 3}}}
	c, err := Compare(ctx, sc, Options{Bin: sluiceBin}, co)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	if !c.Correct() {
		t.Errorf("not every row delivered all 400 recipients once")
	}
	if c.Limits.Connections != 3 {
		t.Errorf("limits %+v, want the scenario's 3 connections", c.Limits)
	}
	rows := []Row{c.Limit, c.SluiceSource}
	if co.Postfix {
		if c.Postfix == nil {
			t.Fatal("no Postfix row")
		}
		rows = append(rows, *c.Postfix)
		if c.Postfix.CPUSeconds <= 0 || !strings.HasPrefix(c.Postfix.System, "postfix") {
			t.Errorf("postfix row %+v: want its name and a positive CPU time", *c.Postfix)
		}
		if math.Abs(c.Ratios.OverPostfix*c.Postfix.DeliveredPerS-c.SluiceSource.DeliveredPerS) > 1e-6 {
			t.Errorf("ratio over Postfix %.3f does not match the rows", c.Ratios.OverPostfix)
		}
	}
	for _, r := range rows {
		if r.Recipients != 400 || r.Messages != 200 || r.DeliveredPerS <= 0 || r.DeliverSeconds <= 0 {
			t.Errorf("row %s: %d messages, %d recipients, %.0f/s over %.2f s; want 200, 400 and positive rates",
				r.System, r.Messages, r.Recipients, r.DeliveredPerS, r.DeliverSeconds)
		}
	}
	if c.Sluice == nil || c.Sluice.Delivered != 400 || c.OwnInjector.OverLimit <= 0 {
		t.Errorf("sluice scenario run %+v, ratios %+v", c.Sluice, c.OwnInjector)
	}
}
