package run

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
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
	// Messages is the number of messages the server accepted (250 to DATA);
	// InjectFailed those it did not.
	Messages     int `json:"messages"`
	InjectFailed int `json:"inject_failed"`
	// SizeBytes and RcptsPerMsg describe each message.
	SizeBytes   int `json:"size_bytes"`
	RcptsPerMsg int `json:"rcpts_per_msg"`

	// Injected is Messages times RcptsPerMsg: the recipients to account for.
	Injected int64 `json:"injected"`
	// Delivered is the recipients the sink accepted (DSNs sent to the
	// injector's sender excluded), Bounced those the server bounced,
	// Deferred those still queued at the end.
	Delivered int64 `json:"delivered"`
	Bounced   int64 `json:"bounced"`
	Deferred  int64 `json:"deferred"`
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

	// Backlog is set by releasing scenarios only.
	Backlog *Backlog `json:"backlog,omitempty"`

	// Arrivals is recipients delivered per second from the first delivery.
	Arrivals []int64 `json:"arrivals_per_s"`
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
		Scenario: sc.Name, Description: sc.Description, SizeBytes: size, RcptsPerMsg: sc.Rcpts,
		Machine: Machine{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			GoVersion: runtime.Version(), Hostname: host},
	}
}

// setInjected records the injection's result.
func (rep *Report) setInjected(res inject.Result, start time.Time) {
	rep.Started = start
	rep.Messages, rep.InjectFailed = res.Sent, res.Failed
	rep.Injected = int64(res.Sent) * int64(rep.RcptsPerMsg)
	rep.InjectSeconds = res.Duration.Seconds()
	rep.InjectedPerS = res.MessagesPerSecond
	rep.InjectP99Ms = float64(res.Latency.P99) / 1e6
}

// finish fills in the report from the last sample and process samples.
func (rep *Report) finish(s sample, start, released time.Time, before, after procSample) {
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

	rep.CPUSeconds = after.CPUSeconds - before.CPUSeconds
	if rep.Messages > 0 {
		rep.CPUSPer1k = rep.CPUSeconds / float64(rep.Messages) * 1000
	}
	rep.PeakRSSBytes = after.HWMBytes
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
	row("scenario", "%s (%s)", rep.Scenario, rep.Description)
	row("messages", "%d injected x %d rcpt of %s, %d failed", rep.Messages, rep.RcptsPerMsg, bytesStr(int64(rep.SizeBytes)), rep.InjectFailed)
	row("injected", "%.0f msgs/s over %.2f s (final 250 p99 %.1f ms)", rep.InjectedPerS, rep.InjectSeconds, rep.InjectP99Ms)
	row("delivered", "%.0f msgs/s, %.0f rcpts/s over %.2f s (first injection to last delivery)",
		rep.DeliveredPerS, rep.RecipientsPerS, rep.DeliverSeconds)
	row("latency", "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms (injection to delivery, %d samples)",
		rep.LatencyP50Ms, rep.LatencyP90Ms, rep.LatencyP99Ms, rep.LatencySamples)
	row("server cpu", "%.2f s, %.3f s per 1,000 msgs", rep.CPUSeconds, rep.CPUSPer1k)
	row("peak rss", "%s", bytesStr(rep.PeakRSSBytes))
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
	row("accounting", "%d delivered + %d bounced + %d deferred = %d of %d injected; %d duplicates: %s",
		rep.Delivered, rep.Bounced, rep.Deferred, rep.Delivered+rep.Bounced+rep.Deferred, rep.Injected, rep.Duplicates, verdict)
	row("machine", "%d CPUs, %s/%s, %s", rep.Machine.CPUs, rep.Machine.GOOS, rep.Machine.GOARCH, rep.Machine.GoVersion)
	return tw.Flush()
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
