package run

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The engine's metrics the runner reads (see GET /metrics of `sluice serve`).
const (
	metricReceived  = "sluice_received_messages_total"
	metricDelivered = "sluice_delivered_recipients_total"
	metricBounced   = "sluice_bounced_recipients_total"
	metricDeferred  = "sluice_deferred_recipients_total"
	metricQueued    = "sluice_queued_recipients"
	metricSyncs     = "sluice_spool_wal_syncs_total"
)

// metrics is one scrape: the value of every sample without labels.
type metrics map[string]float64

func (m metrics) int(name string) int64 { return int64(m[name]) }

// maxMetricsLines bounds a scrape.
const maxMetricsLines = 100_000

// scrape reads the Prometheus text exposition at url.
func scrape(ctx context.Context, cl *http.Client, url string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, fmt.Errorf("run: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("run: scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

// parseMetrics reads "name value" lines; comments and labelled samples are
// skipped.
func parseMetrics(sc *bufio.Scanner) (metrics, error) {
	m := make(metrics)
	for n := 0; sc.Scan() && n < maxMetricsLines; n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(val, ' '); i >= 0 { // a timestamp follows
			val = val[:i]
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			m[name] = v
		}
	}
	return m, sc.Err()
}
