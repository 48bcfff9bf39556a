package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"io"
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
	data, err := serverConfig("/w", "127.0.0.1:1", "127.0.0.1:2", "", "127.0.0.1:3", 4,
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

func TestChartSVG_WellFormedWithBothPanelsAndCrash(t *testing.T) {
	rep := &Report{Scenario: "a<b>&c", Inject: "smtp", Injected: 300, Crash: &Crash{KilledAtSeconds: 1.5},
		Timeline: []Point{{1, 100, 50, 50}, {2, 200, 150, 40}, {3, 300, 300, 0}}}
	svg := ChartSVG(rep)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	classes := map[string]int{}
	var title string
	for inTitle := false; ; {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			for _, a := range el.Attr {
				if a.Name.Local == "class" {
					classes[a.Value]++
					inTitle = a.Value == "title" || inTitle
				}
			}
		case xml.CharData:
			if inTitle && title == "" {
				title = string(el)
			}
		}
	}
	for _, c := range []string{"series delivered-rate", "series queue-depth", "crash"} {
		if classes[c] == 0 {
			t.Errorf("chart has no element of class %q (classes %v)", c, classes)
		}
	}
	if classes["crash"] != 2 || !strings.Contains(title, "a<b>&c") {
		t.Errorf("crash lines %d, title %q", classes["crash"], title)
	}
	if !bytes.Equal(svg, ChartSVG(rep)) {
		t.Error("ChartSVG is not deterministic")
	}
	// An empty timeline still draws.
	if err := xml.Unmarshal(ChartSVG(&Report{Scenario: "x"}), new(struct{})); err != nil {
		t.Errorf("empty chart: %v", err)
	}
}

func TestAckSet_AddCountEach(t *testing.T) {
	a := newAckSet(200)
	a.add(3, 2)
	a.add(64, 1)
	a.add(199, 5) // past the end: only 199
	var got []int64
	a.each(func(i int64) { got = append(got, i) })
	if a.count() != 4 || !reflect.DeepEqual(got, []int64{3, 4, 64, 199}) {
		t.Errorf("count %d, each %v; want 4, [3 4 64 199]", a.count(), got)
	}
}
