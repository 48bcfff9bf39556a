package shaping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func mustRate(t testing.TB, s string) *Rate {
	t.Helper()
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

const googleSite = "alt1.aspmx.l.google.com,aspmx.l.google.com"

// docTable is the example of doc.go.
func docTable(t testing.TB) *Table {
	t.Helper()
	tb, err := NewTable(DefaultLimits(),
		[]Rule{
			{Match: "*", MaxRcptPerMsg: ptr(50)},
			{Match: "*.test", MaxMsgRate: mustRate(t, "100/s"), MaxSMTPOut: ptr(3)},
			{Match: "a.b.test", MaxSMTPOut: ptr(5)},
		},
		[]Rule{{Match: "*.google.com", MaxSMTPOut: ptr(10), TLS: TLSRequire}},
		map[string][]Rule{"ip2": {{MaxMsgRate: mustRate(t, "10/m")}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestResolve_Precedence(t *testing.T) {
	tb, err := NewTable(DefaultLimits(),
		[]Rule{
			{Match: "*", MaxRcptPerMsg: ptr(50)},
			{Match: "*.com", MaxSMTPOut: ptr(2), BounceAfter: ptr(time.Hour)},
			{Match: "*.example.com", MaxSMTPOut: ptr(3), MaxMsgRate: mustRate(t, "100/s")},
			{Match: "a.example.com", MaxSMTPOut: ptr(4)},
			{Match: "routed.com", Route: []string{"smarthost:587"}, MXRollup: ptr(false)},
			{Match: "*.routed.com", Route: []string{}}, // its sub-domains go by MX again
		},
		[]Rule{
			{Match: "*", MaxConnRate: mustRate(t, "10/s")},
			{Match: "*.google.com", MaxSMTPOut: ptr(10), TLS: TLSRequire},
			{Match: "aspmx.l.google.com", MaxMsgPerConnection: ptr(7)},
		},
		map[string][]Rule{
			"ip2": {
				{Match: "a.example.com", MaxSMTPOut: ptr(1)},
				{Match: "", MaxSMTPOut: ptr(8), MaxMsgRate: mustRate(t, "10/m")},
			},
			"ip4": {{Match: "*.example.com", MaxMsgRate: &Rate{}}}, // lifts the rate
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultLimits()
	with := func(edit func(l *Limits)) Limits { l := d; l.MaxRcptPerMsg = 50; edit(&l); return l }
	tests := []struct {
		name               string
		vmta, domain, site string
		want               Limits
	}{
		{"no rule but the catch-alls", "ip3", "example.org", "",
			with(func(l *Limits) {})},
		{"catch-all site rule applies with a site", "ip3", "example.org", "mx.example.org",
			with(func(l *Limits) { l.MaxConnRate = Rate{10, time.Second} })},
		{"wildcard matches a sub-domain", "ip3", "b.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 3; l.MaxMsgRate = Rate{100, time.Second}; l.BounceAfter = time.Hour })},
		{"wildcard matches a deeper sub-domain", "ip3", "x.y.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 3; l.MaxMsgRate = Rate{100, time.Second}; l.BounceAfter = time.Hour })},
		{"wildcard does not match the bare domain; shorter wildcard does", "ip3", "example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 2; l.BounceAfter = time.Hour })},
		{"exact beats wildcard, inherits wildcard's other fields", "ip3", "a.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 4; l.MaxMsgRate = Rate{100, time.Second}; l.BounceAfter = time.Hour })},
		{"matching ignores case and trailing dot", "ip3", "A.Example.COM.", "",
			with(func(l *Limits) { l.MaxSMTPOut = 4; l.MaxMsgRate = Rate{100, time.Second}; l.BounceAfter = time.Hour })},
		{"site beats domain; most specific host rule last", "ip3", "a.example.com", googleSite,
			with(func(l *Limits) {
				l.MaxSMTPOut = 10
				l.TLS = TLSRequire
				l.MaxMsgPerConnection = 7
				l.MaxConnRate = Rate{10, time.Second}
				l.MaxMsgRate = Rate{100, time.Second}
				l.BounceAfter = time.Hour
			})},
		{"vmta plain override beats domain and site", "ip2", "b.example.com", googleSite,
			with(func(l *Limits) {
				l.MaxSMTPOut = 8
				l.MaxMsgRate = Rate{10, time.Minute}
				l.TLS = TLSRequire
				l.MaxMsgPerConnection = 7
				l.MaxConnRate = Rate{10, time.Second}
				l.BounceAfter = time.Hour
			})},
		{"vmta domain rule beats vmta plain override", "ip2", "a.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 1; l.MaxMsgRate = Rate{10, time.Minute}; l.BounceAfter = time.Hour })},
		{"vmta rule lifts a rate with the zero Rate", "ip4", "b.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 3; l.BounceAfter = time.Hour })},
		{"another vmta's rules do not apply", "ip3", "b.example.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 3; l.MaxMsgRate = Rate{100, time.Second}; l.BounceAfter = time.Hour })},
		{"route and mx_rollup per domain", "ip3", "routed.com", "",
			with(func(l *Limits) {
				l.MaxSMTPOut = 2
				l.BounceAfter = time.Hour
				l.Route = []string{"smarthost:587"}
				l.MXRollup = false
			})},
		{"route site matches host rules without the port", "ip3", "routed.com", "route:aspmx.l.google.com:587",
			with(func(l *Limits) {
				l.MaxSMTPOut = 10
				l.TLS = TLSRequire
				l.MaxMsgPerConnection = 7
				l.MaxConnRate = Rate{10, time.Second}
				l.BounceAfter = time.Hour
				l.Route = []string{"smarthost:587"}
				l.MXRollup = false
			})},
		{"empty non-nil route resets to MX", "ip3", "x.routed.com", "",
			with(func(l *Limits) { l.MaxSMTPOut = 2; l.BounceAfter = time.Hour; l.Route = []string{} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tb.Resolve(tt.vmta, tt.domain, tt.site)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Resolve(%s, %s, %s)\n got %+v\nwant %+v", tt.vmta, tt.domain, tt.site, got, tt.want)
			}
		})
	}
}

func TestResolve_DocExample(t *testing.T) {
	tb := docTable(t)
	l := tb.Resolve("ip3", "a.b.test", "mx.b.test")
	if l.MaxSMTPOut != 5 || l.MaxMsgRate != (Rate{100, time.Second}) || l.MaxRcptPerMsg != 50 || l.TLS != TLSOpportunistic {
		t.Errorf("a.b.test: %+v", l)
	}
	l = tb.Resolve("ip3", "x.test", googleSite)
	if l.MaxSMTPOut != 10 || l.TLS != TLSRequire || l.MaxMsgRate != (Rate{100, time.Second}) {
		t.Errorf("x.test via google: %+v", l)
	}
	l = tb.Resolve("ip2", "x.test", "mx.x.test")
	if l.MaxMsgRate != (Rate{10, time.Minute}) || l.MaxSMTPOut != 3 {
		t.Errorf("x.test from ip2: %+v", l)
	}
}

func TestResolve_NoRules_Defaults(t *testing.T) {
	tb, err := NewTable(DefaultLimits(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.Resolve("ip2", "example.com", "mx.example.com"); !reflect.DeepEqual(got, DefaultLimits()) {
		t.Fatalf("Resolve = %+v, want the defaults", got)
	}
}

func TestResolve_SiteWithOverlappingHostRules_EachRuleOnce(t *testing.T) {
	tb, err := NewTable(DefaultLimits(), nil, []Rule{
		{Match: "mx2.example.net", MaxSMTPOut: ptr(2)},
		{Match: "*.example.net", MaxSMTPOut: ptr(9), MaxRcptPerMsg: ptr(9)},
		{Match: "mx1.example.net", MaxSMTPOut: ptr(1)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both exact rules match (equal rank): the later in the list applies last.
	l := tb.Resolve("ip2", "d.test", "mx1.example.net,mx2.example.net")
	if l.MaxSMTPOut != 1 || l.MaxRcptPerMsg != 9 {
		t.Fatalf("Resolve = %+v, want max_smtp_out 1 (rule 2 last), max_rcpt_per_msg 9", l)
	}
}

func TestResolve_NoAllocation(t *testing.T) {
	tb := docTable(t)
	if n := testing.AllocsPerRun(1000, func() { tb.Resolve("ip2", "a.b.test", googleSite) }); n != 0 {
		t.Fatalf("Resolve allocates %v times per call", n)
	}
}

func TestScope_SameRuleSameScope_DifferentRuleDifferentScope(t *testing.T) {
	tb := docTable(t)
	if tb.Scope("ip3", "x.test") != tb.Scope("ip3", "y.test") {
		t.Error("x.test and y.test share *.test but got different scopes")
	}
	if tb.Scope("ip3", "x.test") == tb.Scope("ip3", "example.org") {
		t.Error("*.test and the catch-all got the same scope")
	}
	if tb.Scope("ip3", "a.b.test") == tb.Scope("ip3", "x.test") {
		t.Error("exact a.b.test and *.test got the same scope")
	}
	if tb.Scope("ip2", "x.test") == tb.Scope("ip3", "x.test") {
		t.Error("ip2's own rule did not change the scope")
	}
}

func TestNewTable_BadRules_ErrorNamesRuleAndField(t *testing.T) {
	badDefaults := DefaultLimits()
	badDefaults.MaxSMTPOut = 0
	noRetry := DefaultLimits()
	noRetry.RetryAfter = nil
	tests := []struct {
		name     string
		defaults Limits
		domains  []Rule
		sites    []Rule
		vmtas    map[string][]Rule
		wantErr  string
	}{
		{"defaults max_smtp_out 0", badDefaults, nil, nil, nil, "defaults: invalid shaping rule: max_smtp_out: must be at least 1, got 0"},
		{"defaults without retry_after", noRetry, nil, nil, nil, "defaults: invalid shaping rule: retry_after"},
		{"missing match", DefaultLimits(), []Rule{{MaxSMTPOut: ptr(1)}}, nil, nil, `domains[0] (""): invalid shaping rule: match: required`},
		{"wildcard in the middle", DefaultLimits(), []Rule{{Match: "a.*.com"}}, nil, nil, `domains[0] ("a.*.com"): invalid shaping rule: match "a.*.com"`},
		{"wildcard without dot", DefaultLimits(), []Rule{{Match: "*example.com"}}, nil, nil, `domains[0] ("*example.com")`},
		{"space in pattern", DefaultLimits(), []Rule{{Match: "ok.com"}, {Match: "exa mple.com"}}, nil, nil, `domains[1] ("exa mple.com")`},
		{"duplicate pattern ignoring case", DefaultLimits(), []Rule{{Match: "*.test"}, {Match: "*.TEST"}}, nil, nil, `domains[1] ("*.TEST"): invalid shaping rule: match: same pattern as domains[0]`},
		{"negative max_rcpt_per_msg", DefaultLimits(), []Rule{{Match: "*.test", MaxRcptPerMsg: ptr(-1)}}, nil, nil, `domains[0] ("*.test"): invalid shaping rule: max_rcpt_per_msg: must be at least 1, got -1`},
		{"negative max_msg_per_connection", DefaultLimits(), []Rule{{Match: "*", MaxMsgPerConnection: ptr(-3)}}, nil, nil, "max_msg_per_connection: must be at least 1, got -3"},
		{"bad rate", DefaultLimits(), []Rule{{Match: "*", MaxConnRate: &Rate{N: -1, Per: time.Second}}}, nil, nil, "max_conn_rate: count -1"},
		{"rate without interval", DefaultLimits(), []Rule{{Match: "*", MaxMsgRate: &Rate{N: 5}}}, nil, nil, "max_msg_rate: interval 0s must be positive"},
		{"empty retry_after", DefaultLimits(), []Rule{{Match: "*", RetryAfter: []time.Duration{}}}, nil, nil, "retry_after: at least one"},
		{"negative retry step", DefaultLimits(), []Rule{{Match: "*", RetryAfter: []time.Duration{time.Minute, -time.Second}}}, nil, nil, "retry_after[1]: must be positive"},
		{"negative bounce_after", DefaultLimits(), []Rule{{Match: "*", BounceAfter: ptr(-time.Hour)}}, nil, nil, "bounce_after: must be positive"},
		{"bad tls", DefaultLimits(), []Rule{{Match: "*", TLS: "always"}}, nil, nil, `tls: "always" is not require`},
		{"bad route host", DefaultLimits(), []Rule{{Match: "*", Route: []string{"a b"}}}, nil, nil, `route[0]: "a b"`},
		{"mx_rollup per site", DefaultLimits(), nil, []Rule{{Match: "*.google.com", MXRollup: ptr(false)}}, nil, `sites[0] ("*.google.com"): invalid shaping rule: mx_rollup: not allowed per site`},
		{"route per site", DefaultLimits(), nil, []Rule{{Match: "*", Route: []string{"relay"}}}, nil, "route: not allowed per site"},
		{"bad vmta rule", DefaultLimits(), nil, nil, map[string][]Rule{"ip2": {{}, {Match: "*.test", MaxSMTPOut: ptr(0)}}}, `vmta ip2 overrides[1] ("*.test"): invalid shaping rule: max_smtp_out`},
		{"vmta plain override twice", DefaultLimits(), nil, nil, map[string][]Rule{"ip2": {{}, {Match: "*"}}}, "vmta ip2 overrides[1] (\"*\"): invalid shaping rule: match: same pattern as vmta ip2 overrides[0]"},
		{"empty vmta name", DefaultLimits(), nil, nil, map[string][]Rule{"": nil}, "vmta name required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTable(tt.defaults, tt.domains, tt.sites, tt.vmtas)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewTable() = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTable_ConcurrentResolve(t *testing.T) {
	tb := docTable(t)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				tb.Resolve("ip2", "a.b.test", googleSite)
				tb.Scope("ip3", "x.test")
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkResolve(b *testing.B) {
	tb := docTable(b)
	b.ReportAllocs()
	for b.Loop() {
		tb.Resolve("ip2", "a.b.test", googleSite)
	}
}
