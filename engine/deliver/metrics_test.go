package deliver

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPool_Counts_TransactionsAndRateWaits: every transaction is counted,
// and with max_msg_rate 20/s and a burst of 1 the sends after the first
// wait for the limiter; the collector exports both per (vmta, site), and a
// pedantic registry finds its series consistent with its descriptions.
func TestPool_Counts_TransactionsAndRateWaits(t *testing.T) {
	rcv := newReceiver(t)
	p := newTestPool(t, Limits{MaxConnections: 1, MsgRate: 20, MsgBurst: 1})
	pl := plan("s1", rcv.addr)
	var tr tracker
	for range 3 {
		submit(t, p, tr.job(pl))
		tr.wait(t)
	}
	st := p.Stats()
	if len(st) != 1 || st[0].Transactions != 3 || st[0].MsgWaits < 1 || st[0].WaitSeconds <= 0 || st[0].ConnWaits != 0 {
		t.Fatalf("stats %+v: want 3 transactions, waits for max_msg_rate only", st)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(p.Collector())
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			got[f.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["sluice_transactions_total"] != 3 || got["sluice_rate_limit_waits_total"] != float64(st[0].MsgWaits) ||
		got["sluice_site_msg_rate"] != 20 {
		t.Errorf("collected %v; stats %+v", got, st[0])
	}
}
