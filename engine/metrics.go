package engine

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	queuedRecipients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_queued_recipients",
		Help: "Recipients in the spool not yet delivered or bounced.",
	}, func() float64 { return float64(e.spool.Stats().Recipients) })
	queuedMessages := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_queued_messages",
		Help: "Messages in the spool with at least one pending recipient.",
	}, func() float64 { return float64(e.spool.Stats().Messages) })
	m.registry.MustRegister(m.receivedMessages, m.receivedRecipients, m.receivedBytes, m.rejected,
		m.delivered, m.bounced, m.deferred,
		queuedRecipients, queuedMessages,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"invalid", "too_large", "low_space", "storage"} {
		m.rejected.WithLabelValues(r)
	}
	return m
}
