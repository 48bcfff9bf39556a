package engine

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-mta/sluice/engine/deliver/mx"
)

// metrics are the engine's Prometheus series. Labels name vmtas, pools,
// sites or reasons, never recipients.
type metrics struct {
	registry           *prometheus.Registry
	receivedMessages   prometheus.Counter
	receivedRecipients prometheus.Counter
	receivedBytes      prometheus.Counter
	rejected           *prometheus.CounterVec
	delivered          prometheus.Counter
	bounced            prometheus.Counter
	deferred           prometheus.Counter
	moved              prometheus.Counter
	held               prometheus.Counter
	adaptiveChanges    prometheus.Counter
	actions            *prometheus.CounterVec
	suppressed         prometheus.Gauge
	complaints         *prometheus.CounterVec
	feedbackIn         *prometheus.CounterVec
	feedbackBad        *prometheus.CounterVec
	suppressedRcpts    prometheus.Counter
	// outcomes counts recipient outcomes per (vmta, site, receiver group,
	// outcome, category); sites caches its children (metrics_outcomes.go).
	outcomes   *prometheus.CounterVec
	sites      sync.Map // outcomeKey -> *siteOutcomes
	ackLatency prometheus.Histogram
}

func newMetrics(e *Engine) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		receivedMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_received_messages_total",
			Help: "Messages accepted and made durable in the spool.",
		}),
		receivedRecipients: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_received_recipients_total",
			Help: "Recipients accepted and made durable in the spool.",
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_received_bytes_total",
			Help: "Message bytes accepted into the spool.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_rejected_messages_total",
			Help: "Messages refused by Submit, by reason (invalid, too_large, low_space, storage).",
		}, []string{"reason"}),
	}
	m.delivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_delivered_recipients_total", Help: "Recipients accepted by the receiver (2xx after DATA)."})
	m.bounced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_bounced_recipients_total", Help: "Recipients failed for good (5xx, expiry, DNS)."})
	m.deferred = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_deferred_recipients_total", Help: "Delivery attempts that failed temporarily (4xx, connection, DNS)."})
	m.moved = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_moved_recipients_total",
		Help: "Recipients moved to another pool member: their vmta was at its warm-up cap or disabled for the receiver."})
	m.held = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_held_recipients_total",
		Help: "Recipients held for a later window (warm-up cap, suspension), counted each time they are held."})
	m.adaptiveChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_adaptive_changes_total",
		Help: "Times the adaptive rate or connection count of a (vmta, site) moved."})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_feedback_actions_total",
		Help: "Feedback actions taken or lifted, by kind (backoff, suspend, disable-source-ip, bounce-all)."}, []string{"kind"})
	m.complaints = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_complaints_total", Help: "Feedback-loop complaints, by vmta and receiver group."}, []string{"vmta", "group"})
	m.feedbackIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_feedback_reports_total", Help: "Inbound reports read, by kind (bounce, complaint)."}, []string{"kind"})
	m.feedbackBad = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_feedback_unreadable_total", Help: "Inbound reports that could not be read (kept for inspection), by kind."},
		[]string{"kind"})
	m.suppressed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sluice_suppression_entries", Help: "Entries on the suppression list."})
	m.suppressedRcpts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_suppressed_recipients_total",
		Help: "Recipients refused or dropped at injection because they are on the suppression list."})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_recipient_outcomes_total",
		Help: "Recipient delivery outcomes (delivered, deferred: each failed attempt, bounced) per vmta, site and receiver group, with the reply's category for failures."},
		[]string{"vmta", "site", "group", "outcome", "category"})
	m.ackLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "sluice_ack_latency_seconds",
		Help:    "Time from Submit to the message being durable (what an injector waits for its 250 or API answer).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
	})
	queuedRecipients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_queued_recipients",
		Help: "Recipients in the spool not yet delivered or bounced.",
	}, func() float64 { return float64(e.spool.Stats().Recipients) })
	queuedMessages := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_queued_messages",
		Help: "Messages in the spool with at least one pending recipient.",
	}, func() float64 { return float64(e.spool.Stats().Messages) })
	m.registry.MustRegister(m.receivedMessages, m.receivedRecipients, m.receivedBytes, m.rejected,
		m.delivered, m.bounced, m.deferred, m.moved, m.held, m.adaptiveChanges, m.actions, m.suppressed, m.suppressedRcpts, m.complaints, m.feedbackIn, m.feedbackBad, stateCollector{e},
		queuedRecipients, queuedMessages, m.outcomes, m.ackLatency, deliverCollector{e},
		mx.NewCollector(func() *mx.Resolver { return e.resolver.Load() }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"invalid", "too_large", "low_space", "storage", "suppressed"} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// stateCollector reports gauges read at scrape time from the engine's own
// counters (no scans): per vmta and pool queue depth, open connections per
// vmta, recipients in flight, and the spool's fsyncs and body bytes.
type stateCollector struct{ e *Engine }

var (
	descQueuedByVMTA = prometheus.NewDesc("sluice_queued_recipients_by_vmta",
		"Recipients in the spool not yet delivered or bounced, per vmta.", []string{"vmta"}, nil)
	descQueuedByPool = prometheus.NewDesc("sluice_queued_recipients_by_pool",
		"Recipients in the spool not yet delivered or bounced, per pool.", []string{"pool"}, nil)
	descConns = prometheus.NewDesc("sluice_connections_open",
		"Outbound SMTP connections open or opening, per vmta.", []string{"vmta"}, nil)
	descReady = prometheus.NewDesc("sluice_ready_jobs",
		"Transactions waiting in the ready queues of the connection pools, per vmta.", []string{"vmta"}, nil)
	descInflight = prometheus.NewDesc("sluice_delivery_inflight_recipients",
		"Recipients handed to delivery and not yet written back (bounded by delivery.max_inflight).", nil, nil)
	descSyncs = prometheus.NewDesc("sluice_spool_wal_syncs_total",
		"WAL fsyncs since start (commits per fsync = the group-commit ratio).", nil, nil)
	descBodyBytes = prometheus.NewDesc("sluice_spool_body_bytes",
		"Bytes of message bodies held in the spool.", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueuedByVMTA, descQueuedByPool, descConns, descReady, descInflight, descSyncs, descBodyBytes} {
		ch <- d
	}
	for _, d := range stateDescs {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.spool.Stats()
	for v, n := range st.ByVMTA {
		ch <- prometheus.MustNewConstMetric(descQueuedByVMTA, prometheus.GaugeValue, float64(n), v)
	}
	for p, n := range st.ByPool {
		ch <- prometheus.MustNewConstMetric(descQueuedByPool, prometheus.GaugeValue, float64(n), p)
	}
	ch <- prometheus.MustNewConstMetric(descSyncs, prometheus.CounterValue, float64(st.WALSyncs))
	ch <- prometheus.MustNewConstMetric(descBodyBytes, prometheus.GaugeValue, float64(st.BodyBytes))
	if c.e.conns != nil {
		conns, ready := map[string]int{}, map[string]int{}
		for _, s := range c.e.conns.Stats() {
			conns[s.VMTA] += s.Connections
			ready[s.VMTA] += s.Queued
		}
		for v, n := range conns {
			ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(n), v)
			ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, float64(ready[v]), v)
		}
	}
	if c.e.inflight != nil {
		c.e.inflight.mu.Lock()
		used := c.e.inflight.used
		c.e.inflight.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(descInflight, prometheus.GaugeValue, float64(used))
	}
	c.e.scrapeState(ch)
}
