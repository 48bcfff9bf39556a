package deliver

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// siteCounts are one site's running totals, kept with atomics so that the
// connection goroutines never take a lock to count.
type siteCounts struct {
	transactions, msgWaits, connWaits atomic.Int64
	waitNanos                         atomic.Int64
}

// wait waits for l and counts the wait in n (and its time) when the
// limiter made the caller wait at all.
func (c *siteCounts) wait(ctx context.Context, l *rate.Limiter, n *atomic.Int64) error {
	r := l.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	n.Add(1)
	c.waitNanos.Add(int64(d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// Collector exports a Pool's per (vmta, site) series to Prometheus: open
// connections, ready jobs, transactions, rate-limit waits and the limits in
// force. Sites of one (vmta, site) with different shaping scopes are summed.
type Collector struct{ p *Pool }

// Collector returns the pool's Prometheus collector.
func (p *Pool) Collector() Collector { return Collector{p} }

var (
	descSiteConns = prometheus.NewDesc("sluice_site_connections_open",
		"Outbound SMTP connections open or opening, per vmta and site.", []string{"vmta", "site"}, nil)
	descSiteReady = prometheus.NewDesc("sluice_site_ready_jobs",
		"Transactions waiting in the site's ready queue.", []string{"vmta", "site"}, nil)
	descSiteTx = prometheus.NewDesc("sluice_transactions_total",
		"SMTP transactions sent (MAIL FROM to the end of DATA), whatever the replies.", []string{"vmta", "site"}, nil)
	descSiteWaits = prometheus.NewDesc("sluice_rate_limit_waits_total",
		"Times a connection waited for its site's rate limit, by limit (max_msg_rate, max_conn_rate).",
		[]string{"vmta", "site", "limit"}, nil)
	descSiteWaitSec = prometheus.NewDesc("sluice_rate_limit_wait_seconds_total",
		"Time connections spent waiting for their site's rate limits.", []string{"vmta", "site"}, nil)
	descSiteMaxConns = prometheus.NewDesc("sluice_site_max_connections",
		"The connection limit in force (the adaptive one when it has cut max_smtp_out).", []string{"vmta", "site"}, nil)
	descSiteRate = prometheus.NewDesc("sluice_site_msg_rate",
		"The message rate limit in force, per second (0: unlimited; the adaptive one when it has cut max_msg_rate).",
		[]string{"vmta", "site"}, nil)
)

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSiteConns, descSiteReady, descSiteTx, descSiteWaits, descSiteWaitSec,
		descSiteMaxConns, descSiteRate} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	type vs struct{ vmta, site string }
	sum := map[vs]*SiteStats{}
	var order []vs
	for _, s := range c.p.Stats() {
		k := vs{s.VMTA, s.Site}
		t := sum[k]
		if t == nil {
			t = &SiteStats{}
			sum[k] = t
			order = append(order, k)
		}
		t.Connections += s.Connections
		t.Queued += s.Queued
		t.Transactions += s.Transactions
		t.MsgWaits += s.MsgWaits
		t.ConnWaits += s.ConnWaits
		t.WaitSeconds += s.WaitSeconds
		t.MaxConnections = max(t.MaxConnections, s.MaxConnections)
		t.MsgRate = max(t.MsgRate, s.MsgRate)
	}
	for _, k := range order {
		t := sum[k]
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{k.vmta, k.site}, extra...)...)
		}
		counter := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{k.vmta, k.site}, extra...)...)
		}
		gauge(descSiteConns, float64(t.Connections))
		gauge(descSiteReady, float64(t.Queued))
		counter(descSiteTx, float64(t.Transactions))
		counter(descSiteWaits, float64(t.MsgWaits), "max_msg_rate")
		counter(descSiteWaits, float64(t.ConnWaits), "max_conn_rate")
		counter(descSiteWaitSec, t.WaitSeconds)
		gauge(descSiteMaxConns, float64(t.MaxConnections))
		gauge(descSiteRate, t.MsgRate)
	}
}
