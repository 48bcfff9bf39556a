package sink

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustProfile(t *testing.T, text string) *Profile {
	t.Helper()
	p, err := ParseProfile("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseProfile_BadProfile_NamesLineAndKey(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown top key", "seed: 1\ncolour: red\n", "line 2: colour: unknown key"},
		{"bad seed", "seed: many\n", "line 1: seed: want a non-negative integer"},
		{"shares over 100", "groups:\n  - name: g\n    domains: [a.test]\n    replies: {defer: 60%, bounce: 50%}\n",
			"line 4: groups[0].replies: shares add up to 110%"},
		{"bad share", "groups:\n  - name: g\n    domains: [a.test]\n    replies:\n      defer: lots\n",
			"line 5: groups[0].replies.defer: want a percentage"},
		{"unknown outcome", "groups:\n  - name: g\n    domains: [a.test]\n    replies: {greylist: 5%}\n",
			"line 4: groups[0].replies.greylist: unknown key"},
		{"no domains", "groups:\n  - name: g\n", "line 2: groups[0].domains: missing"},
		{"no name", "groups:\n  - domains: [a.test]\n", "line 2: groups[0].name: missing"},
		{"bad pattern", "groups:\n  - name: g\n    domains: [\"[a\"]\n", "line 3: groups[0].domains[0]: bad pattern"},
		{"duplicate group", "groups:\n  - {name: g, domains: [a]}\n  - {name: g, domains: [b]}\n",
			"line 3: groups[1].name: group \"g\" is defined twice"},
		{"bad duration", "latency:\n  rcpt: soon\n", "line 2: latency.rcpt: want a duration"},
		{"unknown command", "latency:\n  quit: 1ms\n", "line 2: latency.quit: unknown key"},
		{"unknown dist", "latency:\n  rcpt: {dist: pareto, p50: 1ms}\n", "line 2: latency.rcpt.dist: unknown distribution \"pareto\""},
		{"lognormal missing p99", "latency:\n  data:\n    dist: lognormal\n    p50: 1ms\n", "line 3: latency.data.p99: missing"},
		{"lognormal p99 < p50", "latency:\n  data: {dist: lognormal, p50: 9ms, p99: 1ms}\n", "line 2: latency.data: lognormal needs 0 < p50 <= p99"},
		{"uniform with p50", "latency:\n  data: {dist: uniform, min: 1ms, p50: 3ms}\n", "line 2: latency.data.p50: not a parameter of uniform"},
		{"group latency for mail", "groups:\n  - name: g\n    domains: [a]\n    latency: {mail: 1ms}\n", "line 4: groups[0].latency.mail: unknown key"},
		{"defer text with 5xx", "groups:\n  - name: g\n    domains: [a]\n    texts:\n      defer: \"550 5.1.1 no\"\n",
			"line 5: groups[0].texts.defer: code 550 does not fit defer"},
		{"throttle list item", "groups:\n  - name: g\n    domains: [a]\n    texts:\n      throttle:\n        - \"421 4.7.0 ok\"\n        - \"450 4.2.1 no\"\n",
			"line 7: groups[0].texts.throttle[1]: code 450 does not fit throttle"},
		{"enhanced class", "groups:\n  - name: g\n    domains: [a]\n    texts: {bounce: \"550 4.1.1 no\"}\n",
			"line 4: groups[0].texts.bounce: reply \"550 4.1.1 no\": enhanced code 4.1.1 has class 4"},
		{"negative cap", "limits:\n  max_connections_per_ip: -1\n", "line 2: limits.max_connections_per_ip: want a count >= 0"},
		{"cap reply not 421", "limits:\n  messages_reply: \"451 4.7.0 slow\"\n", "line 2: limits.messages_reply: want a 421 reply"},
		{"not a mapping", "- 1\n", "line 1: : want a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile("bad.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
				t.Errorf("ParseProfile = %v\nwant an error naming bad.yaml and containing %q", err, tc.want)
			}
		})
	}
}

func TestParseProfile_Good(t *testing.T) {
	p := mustProfile(t, `
seed: 7
limits: {max_messages_per_connection: 5, max_connections_per_ip: 3}
latency:
  connect: 2ms
  rcpt: {dist: uniform, min: 1ms, max: 3ms}
groups:
  - name: big
    domains: ["*.big.test", "BIG.test"]
    replies: {defer: 5%, bounce: 2.5%, throttle: 0.5%}
    texts:
      throttle: "421 4.7.28 slow down {rcpt}"
    latency: {data: {dist: lognormal, p50: 10ms, p99: 100ms}}
`)
	if p.Seed != 7 || p.Limits.MaxMessagesPerConnection != 5 || p.Limits.MaxConnectionsPerIP != 3 {
		t.Errorf("profile = %+v", p)
	}
	if p.Limits.MessagesReply.Code != 421 || p.Limits.ConnectionsReply.Code != 421 {
		t.Errorf("default cap replies = %+v %+v", p.Limits.MessagesReply, p.Limits.ConnectionsReply)
	}
	g := p.Groups[0]
	if g.Shares != [nOutcomes]int{9200, 500, 250, 50} {
		t.Errorf("shares = %v, want accept 92%%, defer 5%%, bounce 2.5%%, throttle 0.5%%", g.Shares)
	}
	if !g.match("x.big.test") || !g.match("big.test") || g.match("small.test") {
		t.Errorf("domains %v match the wrong domains", g.Domains)
	}
	if r := g.Replies[OutThrottle][0]; r.Code != 421 || r.Enhanced != [3]int{4, 7, 28} || r.Text != "slow down {rcpt}" {
		t.Errorf("throttle reply = %+v", r)
	}
	if p.Latency[CmdConnect].String() != "fixed 2ms" || p.Latency[CmdRcpt].String() != "uniform 1ms..3ms" ||
		g.Latency[CmdData].String() != "lognormal p50 10ms p99 100ms" {
		t.Errorf("latencies %v, group %v", p.Latency, g.Latency)
	}
}

func TestLoadProfile_ShippedProfilesParse(t *testing.T) {
	names := ProfileNames()
	for _, want := range []string{"gmail", "outlook", "providers", "yahoo"} {
		if !slices.Contains(names, want) {
			t.Errorf("shipped profiles %v lack %s", names, want)
		}
	}
	for _, n := range names {
		p, err := LoadProfile(n)
		if err != nil {
			t.Errorf("LoadProfile(%s): %v", n, err)
			continue
		}
		if len(p.Groups) == 0 {
			t.Errorf("profile %s has no groups", n)
		}
	}
	p, _ := LoadProfile("gmail")
	if got := p.Groups[0].Replies[OutThrottle][1]; got.Enhanced != [3]int{4, 7, 28} {
		t.Errorf("gmail throttle = %+v, want 421 4.7.28", got)
	}
	if _, err := LoadProfile("hotmale"); err == nil || !strings.Contains(err.Error(), "gmail") {
		t.Errorf("LoadProfile(unknown) = %v, want an error listing the shipped ones", err)
	}
}

// rcptCodes sends n RCPTs to rcpt-domain recipients, one transaction of one
// RCPT at a time, reconnecting after a 421, and returns the codes in order.
func rcptCodes(t *testing.T, addr string, n int, domain string) []int {
	t.Helper()
	var codes []int
	c := dialRaw(t, addr)
	for i := range n {
		c.cmd(250, "MAIL FROM:<a@src.test>")
		if err := c.PrintfLine("RCPT TO:<u%d@%s>", i, domain); err != nil {
			t.Fatal(err)
		}
		code, _ := c.reply()
		codes = append(codes, code)
		if code == 421 {
			c.expectClosed()
			c = dialRaw(t, addr)
			continue
		}
		c.cmd(250, "RSET")
	}
	return codes
}

func TestSink_Profile_ReplySharesExactUnderSeed(t *testing.T) {
	text := `
seed: %d
groups:
  - name: g
    domains: ["*.g.test"]
    replies: {defer: 5%%, bounce: 2%%, throttle: 3%%}
`
	run := func(seed int) ([]int, Stats) {
		s, addr := testSink(t, Config{Profile: mustProfile(t, fmt.Sprintf(text, seed))})
		codes := rcptCodes(t, addr, 200, "x.g.test")
		return codes, s.Stats()
	}
	a, st := run(42)
	count := map[int]int{}
	for _, c := range a {
		count[c]++
	}
	if want := map[int]int{250: 180, 451: 10, 550: 4, 421: 6}; !maps.Equal(count, want) {
		t.Errorf("200 replies by code = %v, want exactly %v", count, want)
	}
	if g := st.ByGroup["g"]; g["250"] != 180 || g["451"] != 10 || g["550"] != 4 || g["421"] != 6 {
		t.Errorf("Stats.ByGroup[g] = %v", g)
	}
	if b, _ := run(42); !slices.Equal(a, b) {
		t.Errorf("same seed, different order:\n%v\n%v", a, b)
	}
	if c, _ := run(43); slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same order")
	}
	// A domain in no group gets the local-part script: u* is accepted.
	s, addr := testSink(t, Config{Behaviours: true, Profile: mustProfile(t, fmt.Sprintf(text, 1))})
	if codes := rcptCodes(t, addr, 20, "other.test"); slices.ContainsFunc(codes, func(c int) bool { return c != 250 }) {
		t.Errorf("codes outside the group = %v, want all 250", codes)
	}
	if st := s.Stats(); st.ByGroup["g"]["250"] != 0 {
		t.Errorf("ByGroup counted recipients outside the group: %v", st.ByGroup)
	}
}

func TestSink_Profile_TextsInTurnWithRcpt(t *testing.T) {
	_, addr := testSink(t, Config{Profile: mustProfile(t, `
groups:
  - name: g
    domains: [g.test]
    replies: {defer: 100%}
    texts: {defer: ["451 4.7.1 first {rcpt}", "450 4.2.1 second"]}
`)})
	c := dialRaw(t, addr)
	c.cmd(250, "MAIL FROM:<a@src.test>")
	if msg := c.cmd(451, "RCPT TO:<x@g.test>"); msg != "4.7.1 first x@g.test" {
		t.Errorf("first defer = %q", msg)
	}
	if msg := c.cmd(450, "RCPT TO:<y@g.test>"); msg != "4.2.1 second" {
		t.Errorf("second defer = %q", msg)
	}
	if msg := c.cmd(451, "RCPT TO:<z@g.test>"); !strings.HasPrefix(msg, "4.7.1 first") {
		t.Errorf("third defer = %q, want the first text again", msg)
	}
}

func TestSink_Profile_MaxMessagesPerConnection_Answers421AndCloses(t *testing.T) {
	s, addr := testSink(t, Config{Profile: mustProfile(t, `
limits:
  max_messages_per_connection: 2
  messages_reply: "421 4.7.0 Try again later, closing connection."
`)})
	c := dialRaw(t, addr)
	for range 2 {
		c.cmd(250, "MAIL FROM:<a@src.test>")
		c.cmd(250, "RCPT TO:<u@d.test>")
		c.cmd(354, "DATA")
		c.cmd(250, "x\r\n.")
	}
	if msg := c.cmd(421, "MAIL FROM:<a@src.test>"); msg != "4.7.0 Try again later, closing connection." {
		t.Errorf("third MAIL = 421 %q", msg)
	}
	c.expectClosed()
	// A new connection starts again.
	c = dialRaw(t, addr)
	c.cmd(250, "MAIL FROM:<a@src.test>")
	st := s.Stats()
	if st.Messages != 2 || st.ByCode["421"] != 1 {
		t.Errorf("messages %d, 421s %d; want 2 and 1", st.Messages, st.ByCode["421"])
	}
}

func TestSink_Profile_MaxConnectionsPerIP_Answers421(t *testing.T) {
	s, addr := testSink(t, Config{Profile: mustProfile(t, "limits: {max_connections_per_ip: 2}\n")})
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	// The third from the same IP is refused at once.
	c := newRawConn(t, addr)
	code, msg := c.reply()
	if code != 421 || !strings.Contains(msg, "Too many connections") {
		t.Errorf("third connection greeted %d %q, want 421 Too many connections", code, msg)
	}
	c.expectClosed()
	// Another loopback IP has its own count.
	other := newRawConnFrom(t, "127.0.0.2", addr)
	other.expect(220)
	a.cmd(221, "QUIT")
	a.expectClosed()
	waitUntil(t, func() bool { return s.Stats().Peers["127.0.0.1"].Active == 1 })
	d := dialRaw(t, addr) // room again
	d.cmd(250, "NOOP")
	b.cmd(250, "NOOP")

	st := s.Stats()
	p := st.Peers["127.0.0.1"]
	if p.Connections != 3 || p.Refused != 1 || p.PeakActive != 2 || p.Active != 2 {
		t.Errorf("Peers[127.0.0.1] = %+v, want 3 connections, 1 refused, peak 2, 2 open", p)
	}
	if st.RefusedConnections != 1 || st.PeakConnections != 3 || st.Connections != 4 || st.Peers["127.0.0.2"].Connections != 1 {
		t.Errorf("refused %d peak %d connections %d peers %v", st.RefusedConnections, st.PeakConnections, st.Connections, st.Peers)
	}
}

func TestSink_Profile_FixedLatencyDelaysReplies(t *testing.T) {
	_, addr := testSink(t, Config{Profile: mustProfile(t, `
latency: {connect: 30ms, ehlo: 30ms, mail: 30ms, rcpt: 30ms}
groups: [{name: g, domains: [g.test], latency: {rcpt: 60ms}}]
`)})
	t0 := time.Now()
	c := dialRaw(t, addr) // greeting and EHLO
	if d := time.Since(t0); d < 60*time.Millisecond {
		t.Errorf("greeting and EHLO took %s, want at least 60ms", d)
	}
	t0 = time.Now()
	c.cmd(250, "MAIL FROM:<a@src.test>")
	c.cmd(250, "RCPT TO:<u@g.test>")
	if d := time.Since(t0); d < 90*time.Millisecond {
		t.Errorf("MAIL and a group RCPT took %s, want at least 30+60ms", d)
	}
}

func TestDist_Sample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	if d := FixedDist(3 * time.Millisecond); d.Sample(rng) != 3*time.Millisecond {
		t.Errorf("fixed 3ms sampled %s", d.Sample(rng))
	}
	if d := FixedDist(0); !d.IsZero() || d.Sample(rng) != 0 {
		t.Error("fixed 0 is not the zero Dist")
	}
	u, err := UniformDist(time.Millisecond, 3*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	const n = 20000
	for range n {
		v := u.Sample(rng)
		if v < time.Millisecond || v > 3*time.Millisecond {
			t.Fatalf("uniform 1ms..3ms sampled %s", v)
		}
		sum += v
	}
	if mean := sum / n; mean < 1950*time.Microsecond || mean > 2050*time.Microsecond {
		t.Errorf("uniform 1ms..3ms mean %s, want about 2ms", mean)
	}
	ln, err := LogNormalDist(10*time.Millisecond, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	vs := make([]time.Duration, n)
	for i := range vs {
		vs[i] = ln.Sample(rng)
	}
	slices.Sort(vs)
	p50, p99 := vs[n/2], vs[n*99/100]
	if p50 < 9500*time.Microsecond || p50 > 10500*time.Microsecond || p99 < 90*time.Millisecond || p99 > 110*time.Millisecond {
		t.Errorf("lognormal p50 10ms p99 100ms sampled p50 %s p99 %s", p50, p99)
	}
	if vs[n-1] > time.Second {
		t.Errorf("lognormal max %s over its cap of 10 x p99", vs[n-1])
	}
	if _, err := UniformDist(2, 1); err == nil {
		t.Error("UniformDist(2, 1) succeeded")
	}
}

func TestSink_HTTP_StatsHasProfileFields(t *testing.T) {
	s, addr := testSink(t, Config{Profile: mustProfile(t, "groups: [{name: g, domains: [d.test]}]\n")})
	if err := send(t, addr, []string{"u@d.test"}, "x\r\n"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	var raw map[string]any
	getJSON(t, ts.Client(), ts.URL+"/stats", &raw)
	for _, k := range []string{"by_peer_ip", "by_domain", "by_code", "active_connections", "peak_connections",
		"refused_connections", "peers", "by_group", "arrivals"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET /stats has no %s", k)
		}
	}
	peer, _ := raw["peers"].(map[string]any)["127.0.0.1"].(map[string]any)
	if peer["connections"] != 1.0 || peer["peak_active"] != 1.0 {
		t.Errorf("peers[127.0.0.1] = %v", peer)
	}
	if g, _ := raw["by_group"].(map[string]any)["g"].(map[string]any); g["250"] != 1.0 {
		t.Errorf("by_group = %v", raw["by_group"])
	}
}
