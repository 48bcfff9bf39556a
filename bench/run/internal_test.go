package run

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-mta/sluice/bench/scenarios"
)

func TestMerge_MapsMergeOthersReplace(t *testing.T) {
	dst := map[string]any{"delivery": map[string]any{"mx_port": 1, "tls": "off"}, "log": map[string]any{"level": "warn"}}
	src := map[string]any{
		"delivery": map[string]any{"retry_after": []any{"2s"}, "tls": "require"},
		"spool":    map[string]any{"ballast_size": "1MiB"},
		"log":      "oops",
	}
	merge(dst, src)
	want := map[string]any{
		"delivery": map[string]any{"mx_port": 1, "tls": "require", "retry_after": []any{"2s"}},
		"spool":    map[string]any{"ballast_size": "1MiB"},
		"log":      "oops",
	}
	if !reflect.DeepEqual(dst, want) {
		t.Errorf("merge = %v\nwant    %v", dst, want)
	}
	dst["spool"].(map[string]any)["x"] = 1
	if _, ok := src["spool"].(map[string]any)["x"]; ok {
		t.Error("merge shares a map with src")
	}
}

func TestServerConfig_PointsAtSinkAndDNS(t *testing.T) {
	data, err := serverConfig("/w", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", 4,
		map[string]any{"delivery": map[string]any{"max_smtp_out": 5}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spool    struct{ Dir string }
		Delivery struct {
			MXPort     int    `yaml:"mx_port"`
			TLS        string `yaml:"tls"`
			MaxSMTPOut int    `yaml:"max_smtp_out"`
		}
		DNS struct{ Resolvers []string }
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spool.Dir != "/w/spool" || got.Delivery.MXPort != 4 || got.Delivery.TLS != "off" ||
		got.Delivery.MaxSMTPOut != 5 || len(got.DNS.Resolvers) != 1 || got.DNS.Resolvers[0] != "127.0.0.1:3" {
		t.Errorf("config:\n%s", data)
	}
}

func TestParseMetrics_UnlabelledSamplesOnly(t *testing.T) {
	text := `# HELP sluice_delivered_recipients_total x
# TYPE sluice_delivered_recipients_total counter
sluice_delivered_recipients_total 1234
sluice_rejected_messages_total{reason="invalid"} 7
sluice_queued_recipients 5 1700000000000
sluice_received_bytes_total 2.36116e+06
garbage
`
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	want := metrics{metricDelivered: 1234, metricQueued: 5, "sluice_received_bytes_total": 2361160}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseMetrics = %v, want %v", m, want)
	}
}

func TestReadProc_Self(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSSBytes <= 0 || p.HWMBytes < p.RSSBytes || p.CPUSeconds < 0 {
		t.Errorf("readProc(self) = %+v", p)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("readProc(-1) succeeded")
	}
}

func TestLoopbackLimit_SmtpSourceIntoSink(t *testing.T) {
	if _, err := os.Stat(DefaultSMTPSource); err != nil {
		t.Skipf("no smtp-source (install Postfix: make bench-deps): %v", err)
	}
	sc := scenarios.Scenario{Name: "lim", Count: 300, Size: "1KB", Rcpts: 2, Concurrency: 4, Timeout: 20 * time.Second}
	sc.SetDefaults()
	r := sourceRunner{sc: sc, source: DefaultSMTPSource, log: slog.New(slog.DiscardHandler)}
	row, err := r.limit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if row.Messages != 300 || row.Recipients != 600 || !row.Complete || row.DeliveredPerS <= 0 ||
		!strings.Contains(row.Command, "-r 2") {
		t.Errorf("limit = %+v, want 300 messages, 600 distinct recipients at a positive rate with -r 2", row)
	}
}
