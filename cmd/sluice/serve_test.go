package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServe_BadConfig_ExitsTwoNamingKeyAndLine_SpoolUntouched(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	bad := "spool:\n  dir: " + spoolDir + "\n  dirr: x\n"
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runSluice(t, "serve", "--config", path)
	if code != 2 {
		t.Fatalf("exit code %d, want 2; stderr: %s", code, stderr)
	}
	if !contains(stderr, `config: line 3: unknown key "dirr" in spool`) {
		t.Fatalf("stderr does not name key and line: %s", stderr)
	}
	if _, err := os.Stat(spoolDir); !os.IsNotExist(err) {
		t.Fatalf("spool dir was touched: %v", err)
	}
}

func TestServe_CheckConfig_PrintsEffectiveConfig(t *testing.T) {
	out, stderr, code := runSluice(t, "serve", "--check-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"max_message_size: 50MiB", "smtp: 127.0.0.1:2525", "127.0.0.0/8", "bounce_after: 96h0m0s"} {
		if !contains(out, want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
}

func TestHelp_EverySubcommand(t *testing.T) {
	for _, sub := range [][]string{{"serve"}, {"inject"}, {"sink"}, {"spool", "inspect"}, {"version"}} {
		out, stderr, code := runSluice(t, append(sub, "--help")...)
		if code != 0 || !contains(out, "Usage:") {
			t.Errorf("%v --help: exit %d, out %q, err %q", sub, code, out, stderr)
		}
	}
}

// TestServe_InjectRestartInspect is the README tour as a test: serve, inject
// with `sluice inject`, check /healthz and /metrics, stop, inspect the spool
// offline, restart and find the mail still queued.
func TestServe_InjectRestartInspect(t *testing.T) {
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, "delivery: {hold: true}\n")
	n := startNode(t, dir, config, smtpAddr, httpAddr)

	out, stderr, code := runSluice(t, "inject", "--to-smtp", smtpAddr, "--count", "200", "--concurrency", "8",
		"--size", "4KB", "--rcpts", "2", "--domains", "5", "--quiet", "--json")
	if code != 0 {
		n.stop()
		t.Fatalf("inject exit %d: %s %s", code, out, stderr)
	}
	var res struct{ Sent, Failed int }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Sent != 200 || res.Failed != 0 {
		n.stop()
		t.Fatalf("inject result %+v (%v): %s", res, err, out)
	}

	health := httpGet(t, "http://"+httpAddr+"/healthz")
	if !contains(health, `"status":"ok"`) || !contains(health, `"queued_recipients":400`) {
		t.Errorf("/healthz: %s", health)
	}
	metrics := httpGet(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{"sluice_received_messages_total 200", "sluice_queued_recipients 400"} {
		if !contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	ls, stderr, code := runSluice(t, "queue", "ls", "--server", httpAddr, "--domain", "d0.test")
	if code != 0 || !contains(ls, "default  d0.test  80") || !contains(ls, "pool default: 400 recipients") {
		t.Errorf("queue ls: exit %d\n%s%s", code, ls, stderr)
	}
	if out, _, code := runSluice(t, "queue", "pause", "--server", httpAddr, "--domain", "d1.test"); code != 0 || !contains(out, `"paused_queues": 1`) {
		t.Errorf("queue pause: %d %s", code, out)
	}
	if out, _, code := runSluice(t, "vmta", "ls", "--server", httpAddr); code != 0 || !contains(out, "default") {
		t.Errorf("vmta ls: %d %s", code, out)
	}
	if out, _, code := runSluice(t, "pool", "ls", "--server", httpAddr); code != 0 || !contains(out, "default  default (weight 1)") {
		t.Errorf("pool ls: %d %s", code, out)
	}
	if out, errOut, code := runSluice(t, "queue", "trace", "--server", httpAddr, "NOPE"); code == 0 || !contains(errOut, "not in the queue") {
		t.Errorf("queue trace of an unknown ID: exit %d %s %s", code, out, errOut)
	}
	if out, _, code := runSluice(t, "queue", "purge", "--server", httpAddr); code == 0 || !contains(out+"", "") {
		t.Errorf("queue purge without a filter must refuse: exit %d", code)
	}
	n.stop()
	if !n.exitState.Success() {
		t.Errorf("serve exit after SIGTERM: %v\n%s", n.exitState, n.stderr)
	}

	out, stderr, code = runSluice(t, "spool", "inspect", "--dir", n.spoolDir, "--json")
	if code != 0 {
		t.Fatalf("inspect exit %d: %s", code, stderr)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("inspect JSON: %v: %s", err, out)
	}
	if rep.Messages != 200 || rep.Recipients != 400 || len(rep.ByDomain) != 5 {
		t.Fatalf("inspect: %+v", rep)
	}
	table, _, _ := runSluice(t, "spool", "inspect", "--dir", n.spoolDir)
	if !contains(table, "200 messages, 400 recipients") || !contains(table, "d0.test") {
		t.Errorf("inspect table:\n%s", table)
	}

	n = startNode(t, dir, config, smtpAddr, httpAddr)
	if m := httpGet(t, "http://"+httpAddr+"/metrics"); !contains(m, "sluice_queued_recipients 400") {
		t.Errorf("after restart the queue is not 400 recipients")
	}
	n.stop()
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// TestServe_RESTAndGRPCInjection_Queued: the API is served by `serve` on its
// HTTP and gRPC listeners (loopback without a key, as the default allows).
func TestServe_RESTInjection_QueuedAndMetered(t *testing.T) {
	dir := t.TempDir()
	smtpAddr, httpAddr, grpcAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, "delivery: {hold: true}\n")
	data, _ := os.ReadFile(config)
	data = []byte(strings.Replace(string(data), `grpc: ""`, "grpc: "+grpcAddr, 1))
	if err := os.WriteFile(config, data, 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	body := `{"from": "news@shop.test", "recipients": [{"address": "a@d1.test", "vars": {"name": "Ann"}}],
		"content": {"subject": "Hi {{.name}}", "text": "Hello {{.name}}"}}`
	resp, err := http.Post("http://"+httpAddr+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !contains(string(b), `"id"`) {
		t.Fatalf("POST /v1/messages: %s %s", resp.Status, b)
	}
	resp, err = http.Post("http://"+httpAddr+"/v1/messages", "application/json", strings.NewReader(`{"from": "x@shop.test", "bogus": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !contains(string(b), "bogus") {
		t.Fatalf("unknown field: %s %s", resp.Status, b)
	}
	if m := httpGet(t, "http://"+httpAddr+"/metrics"); !contains(m, "sluice_received_messages_total 1") {
		t.Fatal("REST injection not counted")
	}
	if doc := httpGet(t, "http://"+httpAddr+"/v1/openapi.json"); !contains(doc, "/v1/messages") {
		t.Fatal("OpenAPI document not served")
	}
}

func TestWarmupSimulate_PrintsCapsPerGroup_BadPlanExits2(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	_ = os.WriteFile(good, []byte("warmup:\n  plans:\n    - {name: new-ip, days: [50, 100], groups: {gmail: {fraction: 0.5}}}\n"), 0o644)
	out, stderr, code := runSluice(t, "warmup", "simulate", "--config", good, "--plan", "new-ip", "--days", "3", "--volume", "80")
	if code != 0 || !contains(out, "gmail  1     25") || !contains(out, "unlimited") {
		t.Fatalf("simulate: exit %d\n%s%s", code, out, stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("warmup:\n  plans:\n    - {name: x, days: [50, 40]}\n"), 0o644)
	if _, stderr, code := runSluice(t, "warmup", "simulate", "--config", bad, "--plan", "x"); code != 2 || !contains(stderr, "line 3") {
		t.Fatalf("bad plan: exit %d %s", code, stderr)
	}
}
