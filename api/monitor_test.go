package api

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMonitor_Page_EmbeddedWithCSP: / serves the page, its files come
// from the binary, and nothing in them loads from another origin.
func TestMonitor_Page_EmbeddedWithCSP(t *testing.T) {
	srv := httptest.NewServer(NewHTTPHandler(newTestEngine(t)))
	defer srv.Close()
	for path, typ := range map[string]string{"/": "text/html", "/monitor/app.js": "javascript", "/monitor/chart.js": "javascript",
		"/monitor/style.css": "text/css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), typ) {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	if code, _ := get(t, srv.URL+"/monitor/nothing.js", ""); code != 404 {
		t.Errorf("GET a file that is not there: %d, want 404", code)
	}
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|fetch\(\s*["']https?:|@import`)
	err := fs.WalkDir(monitorFiles, "monitor", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := monitorFiles.ReadFile(path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another origin: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMonitor_Routes_NeedReadRole: the monitor's data answers read and
// admin keys (and says which), and refuses no key or an inject key.
func TestMonitor_Routes_NeedReadRole(t *testing.T) {
	env := adminServer(t)
	for _, c := range []struct {
		key  string
		code int
		role Role
	}{{"", 401, ""}, {keyInject, 403, ""}, {keyRead, 200, RoleRead}, {keyAdmin, 200, RoleAdmin}} {
		authz := ""
		if c.key != "" {
			authz = "Bearer " + c.key
		}
		code, body := get(t, env.url+"/v1/monitor/overview", authz)
		if code != c.code {
			t.Errorf("key %q: %d %s, want %d", c.role, code, body, c.code)
			continue
		}
		if code != 200 {
			var st struct{ Message string }
			if json.Unmarshal(body, &st) != nil || st.Message == "" {
				t.Errorf("refusal without a message: %s", body)
			}
			continue
		}
		var o Overview
		if err := json.Unmarshal(body, &o); err != nil {
			t.Fatal(err)
		}
		if o.Key.Role != c.role {
			t.Errorf("overview says role %q, want %q", o.Key.Role, c.role)
		}
	}
	if code, body := get(t, env.url+"/v1/monitor/queue?vmta=default", "Bearer "+keyRead); code != 400 || !strings.Contains(string(body), "domain") {
		t.Errorf("queue without a domain: %d %s, want 400 naming it", code, body)
	}
	env.inject(t, "a@a.test", "b@a.test")
	code, body := get(t, env.url+"/v1/monitor/queue?vmta=default&domain=a.test", "Bearer "+keyRead)
	var q struct{ Recipients int }
	if code != 200 || json.Unmarshal(body, &q) != nil || q.Recipients != 2 {
		t.Errorf("queue a.test: %d %s, want 2 recipients", code, body)
	}
}

// TestMonitor_History_OneSampleEvery5s: overview requests sample the
// counters at most every 5 s; the answer always ends with the current ones.
func TestMonitor_History_OneSampleEvery5s(t *testing.T) {
	eng := newTestEngine(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	env := testServer(t, nil, func(o *Options) {
		o.Submitter, o.Admin = eng, eng
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	overview := func(advance time.Duration) []Sample {
		mu.Lock()
		now = now.Add(advance)
		mu.Unlock()
		code, body := get(t, env.url+"/v1/monitor/overview", "Bearer "+keyRead)
		var o Overview
		if code != 200 || json.Unmarshal(body, &o) != nil {
			t.Fatalf("overview: %d %s", code, body)
		}
		return o.History
	}
	for i, c := range []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {2 * time.Second, 2}, {3 * time.Second, 2}, {time.Second, 3}, {10 * time.Second, 3}} {
		h := overview(c.advance)
		if len(h) != c.want {
			t.Fatalf("request %d: %d samples, want %d: %+v", i, len(h), c.want, h)
		}
		if !h[len(h)-1].Time.Equal(now) {
			t.Fatalf("request %d: last sample at %v, want now %v", i, h[len(h)-1].Time, now)
		}
	}
}

func TestTopQueued_MostQueuedFirst_SkipsShown(t *testing.T) {
	by := map[string]int64{"a.test": 5, "b.test": 50, "c.test": 7, "d.test": 50, "e.test": 1}
	got := topQueued(by, 3, map[string]bool{"c.test": true})
	if want := []string{"b.test", "d.test", "a.test"}; !slices.Equal(got, want) {
		t.Fatalf("topQueued = %v, want %v", got, want)
	}
	if got := topQueued(by, 10, nil); len(got) != 5 || got[4] != "e.test" {
		t.Fatalf("topQueued of all = %v", got)
	}
}
