package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-mta/sluice/feedback"
)

// scrape is one GET /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	code, body := get(t, url+"/metrics", "")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sum adds the values of family name's series whose labels include
// every name=value pair of match.
func (s scrape) sum(name string, match ...string) float64 {
	total := 0.0
	f := s[name]
	if f == nil {
		return -1 // absent: never equal to a count
	}
series:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(match); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == match[i] && l.GetValue() == match[i+1] {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// labelValues lists the values label takes in family name.
func (s scrape) labelValues(name, label string) []string {
	var out []string
	for _, m := range s[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// TestMetrics_AfterRealDeliveries_MatchSinkCounts sends mail through a real
// engine to the sink and checks what /metrics says against what the sink
// saw: recipients accepted, 451s and 550s per reply, MAIL FROMs.
func TestMetrics_AfterRealDeliveries_MatchSinkCounts(t *testing.T) {
	n := startLiveNode(t)
	var tr traffic
	n.sendTraffic(t, &tr)
	st := n.sink.Stats()
	m := scrapeMetrics(t, n.url)

	checks := []struct {
		what      string
		got, want float64
	}{
		{"outcomes delivered = sink recipients", m.sum("sluice_recipient_outcomes_total", "outcome", "delivered"), float64(st.Recipients)},
		{"outcomes deferred = sink 451s", m.sum("sluice_recipient_outcomes_total", "outcome", "deferred"), float64(st.ByCode["451"])},
		{"outcomes bounced = sink 550s", m.sum("sluice_recipient_outcomes_total", "outcome", "bounced"), float64(st.ByCode["550"])},
		{"delivered total = sink recipients", m.sum("sluice_delivered_recipients_total"), float64(st.Recipients)},
		{"transactions = sink MAIL FROMs", m.sum("sluice_transactions_total"), float64(st.Transactions)},
		{"transactions of ip2 + ip3", m.sum("sluice_transactions_total", "vmta", "ip2") + m.sum("sluice_transactions_total", "vmta", "ip3"), float64(st.Transactions)},
		{"ack latency samples = messages", m.sum("sluice_ack_latency_seconds"), float64(tr.delivered + tr.deferred + tr.bounced)},
		{"queued = deferred", m.sum("sluice_queued_recipients"), float64(tr.deferred)},
		{"queued by site: all at slow.test's", m.sum("sluice_queued_recipients_by_site", "site", "mx.slow.test"), float64(tr.deferred)},
		{"queued by site: in all", m.sum("sluice_queued_recipients_by_site"), float64(tr.deferred)},
		{"bounced with category bad-mailbox", m.sum("sluice_recipient_outcomes_total", "outcome", "bounced", "category", "bad-mailbox"), float64(tr.bounced)},
		{"deferred in slow.test's site", m.sum("sluice_recipient_outcomes_total", "outcome", "deferred", "site", "mx.slow.test"), float64(tr.deferred)},
		{"delivered in the receiver group of *.test", m.sum("sluice_recipient_outcomes_total", "outcome", "delivered", "group",
			feedback.DefaultRules().Group("mx.d0.test")), float64(tr.delivered)},
	}
	if st.Recipients != int64(tr.delivered) {
		t.Fatalf("sink accepted %d recipients, want %d", st.Recipients, tr.delivered)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: metrics %v, want %v", c.what, c.got, c.want)
		}
	}
	// DNS: every domain was looked up once and then answered from the cache
	// or a query in flight; the misses are the questions the fake DNS got
	// (MX, then the MX host's addresses).
	if miss := m.sum("sluice_dns_cache_lookups_total", "result", "miss"); miss <= 0 || miss > float64(n.dns.Queries()) {
		t.Errorf("dns cache misses %v, fake DNS answered %d queries", miss, n.dns.Queries())
	}
	if hit := m.sum("sluice_dns_cache_lookups_total", "result", "hit") + m.sum("sluice_dns_cache_lookups_total", "result", "join"); hit <= 0 {
		t.Errorf("no DNS cache hit or join over %d single-recipient messages to 7 domains", tr.delivered)
	}
	// The deferred mail is still queued: the oldest message is that old.
	if age := m.sum("sluice_oldest_message_age_seconds"); age < 0 || age > 120 {
		t.Errorf("oldest message age %v s, want within the test's run", age)
	}
	// Warm-up: ip2 is on day 1 of 200 a day (bigmail half), and what it
	// sent is counted.
	if got := m.sum("sluice_warmup_day", "vmta", "ip2", "group", "other"); got != 1 {
		t.Errorf("warm-up day of ip2/other: %v, want 1", got)
	}
	if got := m.sum("sluice_warmup_cap", "vmta", "ip2", "group", "bigmail"); got != 100 {
		t.Errorf("warm-up cap of ip2/bigmail: %v, want 100", got)
	}
	if sent := m.sum("sluice_warmup_sent", "vmta", "ip2"); sent <= 0 || sent > float64(tr.delivered+tr.deferred+tr.bounced) {
		t.Errorf("warm-up sent by ip2: %v", sent)
	}
	// Adaptive limits are exported against the configured ones once a site
	// has had replies, and never above them.
	for _, v := range m["sluice_adaptive_connections"].GetMetric() {
		lv := map[string]string{}
		for _, l := range v.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		ceil := m.sum("sluice_configured_connections", "vmta", lv["vmta"], "site", lv["site"])
		if v.GetGauge().GetValue() > ceil || ceil <= 0 {
			t.Errorf("adaptive connections %v over configured %v for %v", v.GetGauge().GetValue(), ceil, lv)
		}
	}
	if len(m["sluice_adaptive_connections"].GetMetric()) == 0 {
		t.Error("no sluice_adaptive_connections series after deliveries")
	}
	// Never a recipient in a label.
	for name, f := range m {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "@") {
					t.Errorf("%s has a recipient-like label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if sites := m.labelValues("sluice_site_connections_open", "site"); len(sites) == 0 {
		t.Error("no per-site connection series")
	}
	// The monitor's connection pools agree with the sink too.
	code, body := get(t, n.url+"/v1/monitor/sites", "Bearer "+keyRead)
	var sites struct {
		Sites []struct{ Transactions int64 }
	}
	if code != 200 || json.Unmarshal(body, &sites) != nil {
		t.Fatalf("GET /v1/monitor/sites: %d %s", code, body)
	}
	var tx int64
	for _, s := range sites.Sites {
		tx += s.Transactions
	}
	if tx != st.Transactions {
		t.Errorf("/v1/monitor/sites: %d transactions, the sink saw %d MAIL FROMs", tx, st.Transactions)
	}
}
