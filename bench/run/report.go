package run

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-mta/sluice/bench/inject"
	"github.com/sluice-mta/sluice/bench/scenarios"
)

// Report is what a run measured. Counts of recipients unless named
// otherwise; rates per second of wall time.
type Report struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	// Inject is how mail went in: smtp, grpc, grpc-batch or grpc-stream.
	Inject string `json:"inject"`
	// Messages is the number of messages the server accepted (250 to DATA);
	// InjectFailed those it did not.
	Messages     int `json:"messages"`
	InjectFailed int `json:"inject_failed"`
	// SizeBytes and RcptsPerMsg describe each message.
	SizeBytes   int `json:"size_bytes"`
	RcptsPerMsg int `json:"rcpts_per_msg"`

	// Injected is the recipients the server acknowledged (Messages times
	// RcptsPerMsg over SMTP): the recipients to account for.
	Injected int64 `json:"injected"`
	// Delivered is the recipients the sink accepted (DSNs sent to the
	// injector's sender excluded), Bounced those the server bounced,
	// Deferred those still queued at the end.
	Delivered int64 `json:"delivered"`
	Bounced   int64 `json:"bounced"`
	Deferred  int64 `json:"deferred"`
	// DeadMXRecipients is how many of Injected went to dead-MX domains
	// (scenario dead_domains): they stay deferred by design.
	DeadMXRecipients int64 `json:"dead_mx_recipients,omitempty"`
	// DSNs is the number of DSNs the sink received for the sender.
	DSNs int64 `json:"dsns"`
	// Duplicates is the number of recipient addresses delivered more than
	// once (DSNs to the one sender not counted).
	Duplicates int64 `json:"duplicates"`
	// Correct is Delivered+Bounced+Deferred == Injected, with no duplicates
	// and no timeout.
	Correct  bool `json:"correct"`
	TimedOut bool `json:"timed_out"`

	// InjectSeconds is the injection's wall time; InjectedPerS messages
	// accepted per second over it.
	InjectSeconds float64 `json:"inject_s"`
	InjectedPerS  float64 `json:"injected_per_s"`
	// DeliverSeconds runs from the first injection to the last delivery.
	// DeliveredPerS is delivered recipients over it divided by RcptsPerMsg
	// (messages' worth per second); RecipientsPerS is delivered recipients
	// over it.
	DeliverSeconds float64 `json:"deliver_s"`
	DeliveredPerS  float64 `json:"delivered_per_s"`
	RecipientsPerS float64 `json:"recipients_per_s"`

	// Latency from the injector writing a message to the sink accepting it
	// (the sink's histogram, about 3% resolution), in milliseconds.
	LatencySamples int64   `json:"latency_samples"`
	LatencyP50Ms   float64 `json:"latency_p50_ms"`
	LatencyP90Ms   float64 `json:"latency_p90_ms"`
	LatencyP99Ms   float64 `json:"latency_p99_ms"`
	// InjectP99Ms is the p99 of the server's reply to the end of DATA.
	InjectP99Ms float64 `json:"inject_p99_ms"`

	// CPUSeconds is the server's user+system time during the run;
	// CPUSPer1k that per 1,000 messages accepted.
	CPUSeconds float64 `json:"cpu_s"`
	CPUSPer1k  float64 `json:"cpu_s_per_1k"`
	// PeakRSSBytes is the server's peak resident set (VmHWM).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Fsyncs is the server's WAL syncs during the run
	// (sluice_spool_wal_syncs_total); MsgsPerFsync is Messages over it.
	Fsyncs       int64   `json:"fsyncs"`
	MsgsPerFsync float64 `json:"msgs_per_fsync"`
	// WriteBytes is what the server wrote to storage during the run
	// (write_bytes of /proc/<pid>/io).
	WriteBytes int64 `json:"write_bytes"`

	// SinkByCode is the sink's replies by code (RCPT and DATA, and the
	// profile's 421s at connect and MAIL); SinkPeakConnections the most
	// connections open to it at once.
	SinkByCode          map[string]int64 `json:"sink_by_code"`
	SinkPeakConnections int64            `json:"sink_peak_connections"`

	// Crash is set by crashing scenarios only.
	Crash *Crash `json:"crash,omitempty"`

	// Backlog is set by releasing scenarios only.
	Backlog *Backlog `json:"backlog,omitempty"`

	// Arrivals is recipients delivered per second from the first delivery.
	Arrivals []int64 `json:"arrivals_per_s"`
	// Timeline is a look at the run every second: injected, delivered,
	// queued (what --chart draws).
	Timeline []Point `json:"timeline"`
	// Machine says where it ran.
	Machine Machine `json:"machine"`
	// Started is when injection began.
	Started time.Time `json:"started"`
}

// Backlog is what a releasing scenario measures.
type Backlog struct {
	// RSSBeforeBytes is the server's resident set before injection,
	// RSSQueuedBytes once every recipient was deferred once;
	// RSSPerQueuedRcpt is their difference per injected recipient.
	RSSBeforeBytes   int64   `json:"rss_before_bytes"`
	RSSQueuedBytes   int64   `json:"rss_queued_bytes"`
	RSSPerQueuedRcpt float64 `json:"rss_per_queued_rcpt_bytes"`
	// QueuedSeconds is from the first injection until every recipient was
	// deferred once; DrainSeconds from the release to the last delivery.
	QueuedSeconds float64 `json:"queued_s"`
	DrainSeconds  float64 `json:"drain_s"`
}

// Crash is what a crashing scenario measures.
type Crash struct {
	// KilledAtSeconds is when the server got SIGKILL, from the first
	// injection; RestartSeconds how long the new one took to be healthy.
	KilledAtSeconds float64 `json:"killed_at_s"`
	RestartSeconds  float64 `json:"restart_s"`
	// AckedBeforeKill is the recipients acknowledged before the kill,
	// Acked in the whole run; DeliveredAcked of those the sink got.
	AckedBeforeKill int64 `json:"acked_before_kill"`
	Acked           int64 `json:"acked"`
	DeliveredAcked  int64 `json:"delivered_acked"`
	// Lost is acknowledged recipients never delivered: must be 0.
	Lost int64 `json:"lost"`
	// Duplicates is addresses delivered more than once (allowed:
	// delivery is at least once).
	Duplicates int64 `json:"duplicates"`
}

// Point is one look at a run.
type Point struct {
	Seconds   float64 `json:"t_s"` // since the first injection
	Injected  int64   `json:"injected"`
	Delivered int64   `json:"delivered"`
	Queued    int64   `json:"queued"`
}

// Machine describes the host of a run.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	Hostname  string `json:"hostname"`
}

func newReport(sc *scenarios.Scenario) *Report {
	size, _ := sc.SizeBytes()
	host, _ := os.Hostname()
	var b *Backlog
	if sc.Release {
		b = &Backlog{}
	}
	return &Report{Backlog: b,
		Scenario: sc.Name, Description: sc.Description, Inject: sc.Inject, SizeBytes: size, RcptsPerMsg: sc.Rcpts,
		Machine: Machine{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			GoVersion: runtime.Version(), Hostname: host},
	}
}

// setInjected records the injection's result and the recipients acked.
func (rep *Report) setInjected(res inject.Result, acked int64, start time.Time) {
	rep.Started = start
	rep.Messages, rep.InjectFailed = res.Sent, res.Failed
	rep.Injected = acked
	rep.InjectSeconds = res.Duration.Seconds()
	rep.InjectedPerS = res.MessagesPerSecond
	if res.Unit == "recipients" { // grpc-batch counts recipients
		rep.Messages = int(acked) / rep.RcptsPerMsg
		rep.InjectFailed /= rep.RcptsPerMsg
		rep.InjectedPerS /= float64(rep.RcptsPerMsg)
	}
	rep.InjectP99Ms = float64(res.Latency.P99) / 1e6
}

// finish fills in the report from the last sample and process samples.
func (rep *Report) finish(s sample, start, released time.Time, before, after procSample, prev procBase) {
	rep.Delivered, rep.Bounced, rep.DSNs = s.delivered, s.bounced, s.dsns
	if s.queued >= 0 {
		rep.Deferred = s.queued
	} else {
		rep.Deferred = max(rep.Injected-rep.Delivered, 0)
	}
	rep.Duplicates = s.st.Duplicates
	if s.dsns > 1 {
		rep.Duplicates-- // the sender's address, once per DSN
	}
	rep.Correct = !rep.TimedOut && rep.Duplicates == 0 && rep.Delivered+rep.Bounced+rep.Deferred == rep.Injected

	if !s.st.LastMessage.IsZero() {
		rep.DeliverSeconds = s.st.LastMessage.Sub(start).Seconds()
	}
	if rep.DeliverSeconds > 0 {
		rep.RecipientsPerS = float64(rep.Delivered) / rep.DeliverSeconds
		rep.DeliveredPerS = rep.RecipientsPerS / float64(rep.RcptsPerMsg)
	}
	rep.LatencySamples = s.st.LatencySamples
	rep.LatencyP50Ms, rep.LatencyP90Ms, rep.LatencyP99Ms = s.st.LatencyP50Ms, s.st.LatencyP90Ms, s.st.LatencyP99Ms
	rep.Arrivals = s.st.Arrivals

	rep.CPUSeconds = prev.cpuSeconds + after.CPUSeconds - before.CPUSeconds
	if rep.Messages > 0 {
		rep.CPUSPer1k = rep.CPUSeconds / float64(rep.Messages) * 1000
	}
	rep.PeakRSSBytes = max(prev.peakRSS, after.HWMBytes)
	rep.WriteBytes = prev.writeBytes + after.WriteBytes - before.WriteBytes
	rep.Fsyncs = s.fsyncs
	if rep.Fsyncs > 0 {
		rep.MsgsPerFsync = float64(rep.Messages) / float64(rep.Fsyncs)
	}
	rep.SinkByCode = s.st.ByCode
	rep.SinkPeakConnections = s.st.PeakConnections
	if b := rep.Backlog; b != nil {
		if rep.Injected > 0 && b.RSSQueuedBytes > 0 {
			b.RSSPerQueuedRcpt = float64(b.RSSQueuedBytes-b.RSSBeforeBytes) / float64(rep.Injected)
		}
		if !released.IsZero() && s.st.LastMessage.After(released) {
			b.DrainSeconds = s.st.LastMessage.Sub(released).Seconds()
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteJSONFile writes the report as JSON to path.
func (rep *Report) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("run: report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("run: report %s: %w", path, err)
	}
	return f.Close()
}

// WriteTable writes the report as a table for people.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s (%s), injected over %s", rep.Scenario, rep.Description, rep.Inject)
	row("messages", "%d injected x %d rcpt of %s, %d failed", rep.Messages, rep.RcptsPerMsg, bytesStr(int64(rep.SizeBytes)), rep.InjectFailed)
	row("injected", "%.0f msgs/s over %.2f s (final 250 p99 %.1f ms)", rep.InjectedPerS, rep.InjectSeconds, rep.InjectP99Ms)
	row("delivered", "%.0f msgs/s, %.0f rcpts/s over %.2f s (first injection to last delivery)",
		rep.DeliveredPerS, rep.RecipientsPerS, rep.DeliverSeconds)
	row("latency", "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms (injection to delivery, %d samples)",
		rep.LatencyP50Ms, rep.LatencyP90Ms, rep.LatencyP99Ms, rep.LatencySamples)
	row("server cpu", "%.2f s, %.3f s per 1,000 msgs", rep.CPUSeconds, rep.CPUSPer1k)
	row("peak rss", "%s", bytesStr(rep.PeakRSSBytes))
	row("disk", "%d fsyncs (%.1f msgs per fsync), %s written", rep.Fsyncs, rep.MsgsPerFsync, bytesStr(rep.WriteBytes))
	row("sink", "replies %s; peak %d connections", codesStr(rep.SinkByCode), rep.SinkPeakConnections)
	if b := rep.Backlog; b != nil {
		row("backlog rss", "%s before, %s with %d queued: %.0f B per queued rcpt",
			bytesStr(b.RSSBeforeBytes), bytesStr(b.RSSQueuedBytes), rep.Injected, b.RSSPerQueuedRcpt)
		row("backlog time", "all deferred once after %.1f s; drained %.1f s after release", b.QueuedSeconds, b.DrainSeconds)
	}
	verdict := "OK"
	switch {
	case rep.TimedOut:
		verdict = "TIMED OUT"
	case !rep.Correct:
		verdict = "MISMATCH"
	}
	if c := rep.Crash; c != nil {
		row("crash", "kill -9 at %.1f s (%d acked by then), healthy again %.2f s later", c.KilledAtSeconds, c.AckedBeforeKill, c.RestartSeconds)
		row("accounting", "%d acked, %d of them delivered, %d lost; %d duplicates, %d delivered in all, %d bounced, %d queued: %s",
			c.Acked, c.DeliveredAcked, c.Lost, c.Duplicates, rep.Delivered, rep.Bounced, rep.Deferred, verdict)
	} else {
		dead := ""
		if rep.DeadMXRecipients > 0 {
			dead = fmt.Sprintf(" (%d of them at the dead MX)", rep.DeadMXRecipients)
		}
		row("accounting", "%d delivered + %d bounced + %d deferred%s = %d of %d injected; %d duplicates: %s",
			rep.Delivered, rep.Bounced, rep.Deferred, dead, rep.Delivered+rep.Bounced+rep.Deferred, rep.Injected, rep.Duplicates, verdict)
	}
	row("machine", "%d CPUs, %s/%s, %s", rep.Machine.CPUs, rep.Machine.GOOS, rep.Machine.GOARCH, rep.Machine.GoVersion)
	return tw.Flush()
}

// codesStr formats reply counts by code: "250 19000, 451 1000".
func codesStr(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, m[k])
	}
	return b.String()
}

// bytesStr formats n bytes with a binary unit.
func bytesStr(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
