package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mta/sluice/engine/webhook"
)

// webhookMetrics are the webhook sinks' series, by webhook name and outcome:
// sent (2xx), failed (retried) and rejected (a 4xx other than 408/429:
// skipped); and each webhook's lag in events, read at scrape time.
type webhookMetrics struct {
	batches *prometheus.CounterVec
	events  *prometheus.CounterVec
}

// newWebhookMetrics makes the series and registers them on reg; lags gives
// each running webhook's lag when scraped.
func newWebhookMetrics(reg *prometheus.Registry, lags func() map[string]float64) *webhookMetrics {
	m := &webhookMetrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_webhook_batches_total",
			Help: "Webhook POST attempts, by webhook and outcome (sent; failed, to be retried; rejected by a 4xx, skipped)."},
			[]string{"webhook", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_webhook_events_total",
			Help: "Events carried by webhook POST attempts, by webhook and outcome (as sluice_webhook_batches_total)."},
			[]string{"webhook", "outcome"}),
	}
	reg.MustRegister(m.batches, m.events, lagCollector{lags})
	return m
}

var webhookLagDesc = prometheus.NewDesc("sluice_webhook_lag_events",
	"Events a webhook is behind: the newest event's cursor less the webhook's saved cursor.", []string{"webhook"}, nil)

// lagCollector reports webhook lags at scrape time.
type lagCollector struct{ lags func() map[string]float64 }

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- webhookLagDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	for name, lag := range c.lags() {
		ch <- prometheus.MustNewConstMetric(webhookLagDesc, prometheus.GaugeValue, lag, name)
	}
}

func (m *webhookMetrics) observe(name string, o webhook.Outcome, n int) {
	m.batches.WithLabelValues(name, string(o)).Inc()
	m.events.WithLabelValues(name, string(o)).Add(float64(n))
}
