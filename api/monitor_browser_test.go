package api

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// findChromium returns the path of a Chromium to drive, or skips the test
// saying how to get one.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on this machine: `.ci/install-deps.sh test` installs Debian's chromium for the monitor's browser test")
	return ""
}

// browser starts a headless Chromium with a fresh profile, no network
// beyond loopback and nothing fetched in the background.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(findChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// NB: the first call starts the browser, which lives as long as its
	// context: no timeout on that one.
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("Chromium would not start here: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelT)
	return ctx
}

// run runs browser actions, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, page)
	}
}

// waitJS waits until the JavaScript expression is truthy.
// NB: not chromedp.Poll, which builds a Function in the page: the
// monitor's Content-Security-Policy (no 'unsafe-eval') rightly refuses it.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	check := chromedp.Evaluate[bool]("!!(" + expr + ")")
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, err := check(ctx, tg)
			if ok {
				return chromedp.Void{}, nil
			}
			if time.Now().After(deadline) {
				return chromedp.Void{}, fmt.Errorf("still false after 30 s: %s (last error %v)", expr, err)
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// textOf reads an element's text in one step (the page redraws every 2 s).
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// number parses a number as the page shows it ("1,234").
func number(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("the page shows %q where a number should be", s)
	}
	return v
}

// screenshot saves the page as a PNG under $SLUICE_ARTIFACTS (or the
// test's temporary directory) and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// restGet GETs a REST path with key and decodes the answer.
func restGet[T any, P interface {
	*T
	proto.Message
}](t *testing.T, url, key string) *T {
	t.Helper()
	code, body := get(t, url, "Bearer "+key)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	v := new(T)
	if err := protojson.Unmarshal(body, P(v)); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
	return v
}

// TestMonitor_Browser_ShowsWhatTheAPISays drives the monitor in headless
// Chromium against a node that has delivered, deferred and bounced mail:
// the numbers on each page are the API's, the admin buttons work for an
// admin key and are absent for a read key, and the pages are saved as
// screenshots.
func TestMonitor_Browser_ShowsWhatTheAPISays(t *testing.T) {
	ctx := browser(t)
	n := startLiveNode(t)
	var tr traffic
	n.sendTraffic(t, &tr)

	// Sign in with the admin key.
	run(t, ctx, "open the monitor", chromedp.Navigate(n.url+"/"), chromedp.WaitVisible(chromedp.CSS("#login-key")))
	screenshot(t, ctx, "monitor-signin.png")
	run(t, ctx, "sign in", chromedp.SendKeys(chromedp.CSS("#login-key"), keyAdmin),
		chromedp.Click(chromedp.CSS("#login-form button")), waitJS(`document.querySelector("#total-delivered")`))
	if got := textOf(t, ctx, "#key-role"); got != "admin" {
		t.Errorf("signed in as role %q, want admin", got)
	}
	// More traffic while the page watches: its charts sample it (the
	// server keeps a sample every 5 s).
	for range 2 {
		time.Sleep(historyEvery)
		n.sendTraffic(t, &tr)
	}
	run(t, ctx, "rate chart", waitJS(`document.querySelectorAll(".card svg.chart path").length >= 5`))
	run(t, ctx, "numbers settled", waitJS(fmt.Sprintf(`(document.querySelector("#total-delivered")||{}).textContent === %q`,
		strconv.Itoa(tr.delivered))))

	// Overview: the totals are /v1/stats's.
	stats := restGet[pb.GetStatsResponse](t, n.url+"/v1/stats", keyRead)
	var delivered, deferred, bounced int64
	for _, o := range stats.GetVmtaOutcomes() {
		delivered, deferred, bounced = delivered+o.Delivered, deferred+o.Deferred, bounced+o.Bounced
	}
	if delivered != int64(tr.delivered) || deferred != int64(tr.deferred) || bounced != int64(tr.bounced) {
		t.Fatalf("API stats: %d delivered, %d deferred, %d bounced; sent %+v", delivered, deferred, bounced, tr)
	}
	for sel, want := range map[string]int64{
		"#total-delivered": delivered, "#total-deferred": deferred, "#total-bounced": bounced,
		"#total-queued_recipients": stats.Recipients, "#total-queued_messages": stats.Messages, "#ov-queued": stats.Recipients,
	} {
		if got := number(t, textOf(t, ctx, sel)); got != want {
			t.Errorf("overview %s shows %d, the API says %d", sel, got, want)
		}
	}
	destinations := textOf(t, ctx, "#ov-destinations")
	for _, d := range stats.GetDomainOutcomes()[:3] {
		if !strings.Contains(destinations, d.Key) {
			t.Errorf("top destinations %q lack %s, one of the API's busiest", destinations, d.Key)
		}
	}
	if reasons := textOf(t, ctx, "#ov-reasons"); !strings.Contains(reasons, "451 4.7.1") || !strings.Contains(reasons, "550 5.1.1") {
		t.Errorf("top reasons lack the sink's 451 and 550: %q", reasons)
	}
	screenshot(t, ctx, "monitor-overview.png")

	// The queue list is the API's.
	all := restGet[pb.ListQueuesResponse](t, n.url+"/v1/queues", keyRead)
	run(t, ctx, "queues page", chromedp.Navigate(n.url+"/#/queues"), waitJS(`document.querySelector("#queues-table")`))
	list := textOf(t, ctx, "#queues-table tbody")
	for _, q := range all.Queues {
		if !strings.Contains(list, q.Vmta+q.Domain+strconv.FormatInt(q.Recipients, 10)) {
			t.Errorf("queue list %q lacks the API's %s/%s with %d recipients", list, q.Vmta, q.Domain, q.Recipients)
		}
	}
	screenshot(t, ctx, "monitor-queues.png")

	// A queue of the deferred mail: counts and replies as the API says.
	qs := restGet[pb.ListQueuesResponse](t, n.url+"/v1/queues?domain=slow.test", keyRead)
	if len(qs.Queues) == 0 {
		t.Fatal("the API lists no queue for slow.test")
	}
	q := qs.Queues[0]
	run(t, ctx, "queue page", chromedp.Navigate(n.url+"/#/queue/"+q.Vmta+"/slow.test"),
		waitJS(`document.querySelector("#q-recipients") && document.querySelector("#q-replies")`))
	if got := number(t, textOf(t, ctx, "#q-recipients")); got != q.Recipients {
		t.Errorf("queue page shows %d recipients, the API says %d", got, q.Recipients)
	}
	if replies := textOf(t, ctx, "#q-replies"); !strings.Contains(replies, "451 4.7.1") {
		t.Errorf("queue page's last replies lack the 451: %q", replies)
	}
	run(t, ctx, "pause", chromedp.Click(chromedp.CSS("#btn-pause")),
		waitJS(`(document.querySelector("#control-result")||{}).textContent === "pause: 1 queues"`))
	if got := restGet[pb.ListQueuesResponse](t, n.url+"/v1/queues?domain=slow.test&vmta="+q.Vmta, keyRead); !got.Queues[0].Paused {
		t.Error("the pause button did not pause the queue")
	}
	run(t, ctx, "paused badge", waitJS(`document.querySelector(".page-head .badge").textContent.includes("paused")`))
	screenshot(t, ctx, "monitor-queue.png")
	run(t, ctx, "resume", chromedp.Click(chromedp.CSS("#btn-resume")),
		waitJS(`(document.querySelector("#control-result")||{}).textContent === "resume: 1 queues"`))
	if got := restGet[pb.ListQueuesResponse](t, n.url+"/v1/queues?domain=slow.test&vmta="+q.Vmta, keyRead); got.Queues[0].Paused {
		t.Error("the resume button did not resume the queue")
	}

	// Trace: the page shows the API's TraceRecipient.
	id := tr.deferredIDs[0]
	want := restGet[pb.TraceRecipientResponse](t, n.url+"/v1/queues/messages/"+id, keyRead).Recipients[0]
	run(t, ctx, "trace", chromedp.Navigate(n.url+"/#/trace/"+id), waitJS(`document.querySelector("#trace-table")`))
	screenshot(t, ctx, "monitor-trace.png")
	got := textOf(t, ctx, "#trace-table tbody")
	for _, s := range []string{want.Recipient, want.State, want.LastReply, strconv.Itoa(int(want.Attempts))} {
		if !strings.Contains(got, s) {
			t.Errorf("trace shows %q, lacking the API's %q", got, s)
		}
	}

	// VMTAs and warm-up: ip2's counts are /v1/warmup's, drawn on its chart.
	warm := restGet[pb.ListWarmupResponse](t, n.url+"/v1/warmup", keyRead)
	run(t, ctx, "vmtas page", chromedp.Navigate(n.url+"/#/vmtas"), waitJS(`document.querySelector(".warm[data-vmta=ip2] svg.chart")`))
	table := textOf(t, ctx, ".warm[data-vmta=ip2] table")
	for _, g := range warm.Vmtas[0].Groups {
		line := fmt.Sprintf("%d / %d / %d", g.Sent, g.Allowed, g.Cap)
		if !strings.Contains(table, line) {
			t.Errorf("warm-up table %q lacks %s's %q", table, g.Group, line)
		}
	}
	if vt := textOf(t, ctx, "#vmtas-table"); !strings.Contains(vt, "127.0.0.2") || !strings.Contains(vt, "127.0.0.3") {
		t.Errorf("vmta table %q lacks the source IPs", vt)
	}
	if sites := textOf(t, ctx, "#sites-table"); !strings.Contains(sites, "mx.slow.test") || !strings.Contains(sites, "ip3") {
		t.Errorf("connection pools %q lack ip3 or slow.test's site", sites)
	}
	screenshot(t, ctx, "monitor-vmtas.png")

	// A read key sees the queue without the buttons; the server refuses it
	// the change anyway.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-key")),
		chromedp.SendKeys(chromedp.CSS("#login-key"), keyRead), chromedp.Click(chromedp.CSS("#login-form button")),
		waitJS(`document.querySelector("#key-role").textContent === "read"`),
		chromedp.Navigate(n.url+"/#/queue/"+q.Vmta+"/slow.test"), waitJS(`document.querySelector("#q-recipients")`))
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector("#admin-buttons")`))
	if err != nil || buttons {
		t.Error("a read key is shown the pause/resume/flush buttons")
	}
	if code, body := post(t, n.url+"/v1/queues:pause", "Bearer "+keyRead, `{"domain": "slow.test"}`); code != 403 {
		t.Errorf("pause with a read key: %d %s, want 403", code, body)
	}

	// A wrong key is turned away at the sign-in form.
	run(t, ctx, "bad key", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-key")),
		chromedp.SendKeys(chromedp.CSS("#login-key"), "sluice_not-a-key"), chromedp.Click(chromedp.CSS("#login-form button")),
		waitJS(`document.querySelector("#login-error").textContent.includes("API key")`))
	if msg := textOf(t, ctx, "#login-error"); !strings.Contains(msg, "unknown API key") {
		t.Errorf("sign-in with a wrong key says %q", msg)
	}
}
