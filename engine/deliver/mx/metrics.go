package mx

import "github.com/prometheus/client_golang/prometheus"

// CacheStats are a Resolver's cache counters since it was built.
type CacheStats struct {
	// Hits are questions answered from the cache; Misses questions sent to
	// the resolvers; Joins questions that waited for a query already on
	// its way. Entries is the number of cached answers now.
	Hits, Misses, Joins int64
	Entries             int
}

// CacheStats returns the cache's counters.
func (r *Resolver) CacheStats() CacheStats {
	r.cache.mu.Lock()
	n := len(r.cache.entries)
	r.cache.mu.Unlock()
	return CacheStats{Hits: r.cache.hits.Load(), Misses: r.cache.misses.Load(), Joins: r.cache.joins.Load(), Entries: n}
}

// Collector exports the DNS cache counters of the resolver that current
// returns (the engine swaps resolvers on reload; the counters then start
// again from zero, which Prometheus reads as a counter reset).
type Collector struct{ current func() *Resolver }

// NewCollector returns a Collector over current.
func NewCollector(current func() *Resolver) Collector { return Collector{current} }

var (
	descLookups = prometheus.NewDesc("sluice_dns_cache_lookups_total",
		"DNS questions asked of the resolver's cache, by result (hit, miss: sent to a resolver, join: waited for a query already sent).",
		[]string{"result"}, nil)
	descEntries = prometheus.NewDesc("sluice_dns_cache_entries", "Answers held in the DNS cache.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) { ch <- descLookups; ch <- descEntries }

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	r := c.current()
	if r == nil {
		return
	}
	st := r.CacheStats()
	ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(st.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(st.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(descLookups, prometheus.CounterValue, float64(st.Joins), "join")
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(st.Entries))
}
