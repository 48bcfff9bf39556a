package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/warmup"
)

// Series read at scrape time from state the engine keeps anyway (no
// scans, nothing counted on the delivery path): the age of the oldest
// queued message, the adaptive limits of each (vmta, site) against the
// configured ones, and each warming vmta's day, cap and count.

var (
	descQueuedBySite = prometheus.NewDesc("sluice_queued_recipients_by_site",
		"Recipients queued per vmta, site and receiver group; site is that of the queue's last delivery attempt, \"\" before its first.",
		[]string{"vmta", "site", "group"}, nil)
	descOldest = prometheus.NewDesc("sluice_oldest_message_age_seconds",
		"Age of the oldest message with a pending recipient (0 when nothing is queued).", nil, nil)
	descAdaptiveRate = prometheus.NewDesc("sluice_adaptive_msg_rate",
		"The adaptive message rate of a (vmta, site), per second (0: unlimited).", []string{"vmta", "site", "group"}, nil)
	descConfiguredRate = prometheus.NewDesc("sluice_configured_msg_rate",
		"The configured max_msg_rate of a (vmta, site), per second (0: unlimited): the adaptive rate's ceiling.",
		[]string{"vmta", "site", "group"}, nil)
	descAdaptiveConns = prometheus.NewDesc("sluice_adaptive_connections",
		"The adaptive connection limit of a (vmta, site).", []string{"vmta", "site", "group"}, nil)
	descConfiguredConns = prometheus.NewDesc("sluice_configured_connections",
		"The configured max_smtp_out of a (vmta, site): the adaptive limit's ceiling.", []string{"vmta", "site", "group"}, nil)
	descBackoff = prometheus.NewDesc("sluice_adaptive_backoff",
		"1 while a (vmta, site) is in adaptive backoff.", []string{"vmta", "site", "group"}, nil)
	descWarmDay = prometheus.NewDesc("sluice_warmup_day",
		"The warm-up day (1-based) of a vmta for a receiver group.", []string{"vmta", "group"}, nil)
	descWarmCap = prometheus.NewDesc("sluice_warmup_cap",
		"Today's warm-up cap of a vmta for a receiver group (absent once unlimited).", []string{"vmta", "group"}, nil)
	descWarmAllowed = prometheus.NewDesc("sluice_warmup_allowed",
		"The part of today's cap due by now (hourly spread; absent once unlimited).", []string{"vmta", "group"}, nil)
	descWarmSent = prometheus.NewDesc("sluice_warmup_sent",
		"Recipients counted against today's warm-up cap (reservations in flight included).", []string{"vmta", "group"}, nil)
	descWarmPaused = prometheus.NewDesc("sluice_warmup_paused",
		"1 while an operator holds a vmta's warm-up step.", []string{"vmta", "group"}, nil)
)

// scrapeState sends the scrape-time series of e.
func (e *Engine) scrapeState(ch chan<- prometheus.Metric) {
	age := 0.0
	if t, ok, err := e.spool.OldestMessage(); err == nil && ok {
		age = max(0, e.clock().Sub(t).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	e.scrapeQueuedBySite(ch)
	for _, ref := range e.fb.match(func(fbKey) bool { return true }) {
		k, s := ref.k, ref.s
		s.mu.Lock()
		if s.ad == nil {
			s.mu.Unlock()
			continue
		}
		r, c := s.ad.Current()
		backoff := s.ad.InBackoff()
		group, domain := s.group, s.domain
		s.mu.Unlock()
		ceil := e.ceiling(k.vmta, domain, k.site)
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, k.vmta, k.site, group)
		}
		gauge(descAdaptiveRate, r)
		gauge(descConfiguredRate, float64(ceil.MsgRate))
		gauge(descAdaptiveConns, float64(c))
		gauge(descConfiguredConns, float64(ceil.MaxConnections))
		gauge(descBackoff, b2f(backoff))
	}
	if e.warm.Load() == nil {
		return
	}
	ws, err := e.WarmupStatus("")
	if err != nil {
		return
	}
	for _, w := range ws {
		for _, g := range w.Groups {
			gauge := func(d *prometheus.Desc, v float64) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, w.VMTA, g.Group)
			}
			gauge(descWarmDay, float64(g.Day))
			gauge(descWarmSent, float64(g.Sent))
			gauge(descWarmPaused, b2f(g.Paused))
			if g.Cap != warmup.Unlimited {
				gauge(descWarmCap, float64(g.Cap))
			}
			if g.Allowed != warmup.Unlimited {
				gauge(descWarmAllowed, float64(g.Allowed))
			}
		}
	}
}

// scrapeQueuedBySite sums the queues' counts by the site their last
// attempt went to (one pass over the queues, one lock of the reply log).
func (e *Engine) scrapeQueuedBySite(ch chan<- prometheus.Metric) {
	qs := e.spool.Queues()
	type vs struct{ vmta, site string }
	sum := map[vs]int{}
	e.replies.mu.Lock()
	for _, q := range qs {
		site := ""
		if r := e.replies.queues[queue.Key{VMTA: q.VMTA, Domain: q.Domain}]; r != nil {
			site = r.site
		}
		sum[vs{q.VMTA, site}] += q.Recipients
	}
	e.replies.mu.Unlock()
	rules := e.rules()
	for k, n := range sum {
		group := ""
		if k.site != "" {
			group = rules.Group(mxHostsOf(k.site)...)
		}
		ch <- prometheus.MustNewConstMetric(descQueuedBySite, prometheus.GaugeValue, float64(n), k.vmta, k.site, group)
	}
}

var stateDescs = []*prometheus.Desc{descQueuedBySite, descOldest, descAdaptiveRate, descConfiguredRate, descAdaptiveConns, descConfiguredConns,
	descBackoff, descWarmDay, descWarmCap, descWarmAllowed, descWarmSent, descWarmPaused}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// deliverCollector exports the connection pool's series once delivery has
// started (the pool is made after the registry).
type deliverCollector struct{ e *Engine }

func (c deliverCollector) Describe(ch chan<- *prometheus.Desc) { deliver.Collector{}.Describe(ch) }

func (c deliverCollector) Collect(ch chan<- prometheus.Metric) {
	if c.e.conns != nil {
		c.e.conns.Collector().Collect(ch)
	}
}
