package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-mta/sluice/bench/sink"
)

//go:embed *.yaml
var files embed.FS

// Scenario is one benchmark load. Zero fields take the defaults that
// SetDefaults documents.
type Scenario struct {
	// Name names the scenario in reports. Required.
	Name string `yaml:"name"`
	// Description says in a line what it measures.
	Description string `yaml:"description"`
	// Count is the number of messages injected. Default 1000.
	Count int `yaml:"count"`
	// Size is the size of each message, e.g. "1KB" (KB and KiB are 1024
	// bytes, MB and MiB 1<<20, a bare number is bytes). Default "4KB".
	Size string `yaml:"size"`
	// Rcpts is the number of recipients per message. Default 1.
	Rcpts int `yaml:"rcpts"`
	// Domains spreads recipients over d0.test .. d<Domains-1>.test.
	// Default 100.
	Domains int `yaml:"domains"`
	// MXHosts makes all domains share that many MX hosts (so the engine
	// rolls them up into that many sites); 0 gives each domain its own.
	// Default 0.
	MXHosts int `yaml:"mx_hosts"`
	// Concurrency is the number of injecting SMTP sessions. Default 20.
	Concurrency int `yaml:"concurrency"`
	// PerConn is the number of messages per injecting connection.
	// Default 100.
	PerConn int `yaml:"per_conn"`
	// LocalPart starts every recipient's local part; the sink scripts its
	// reply by it ("defer" defers, "bounce" bounces, "slow" delays, see
	// bench/sink). Default "user" (accepted).
	LocalPart string `yaml:"local_part"`
	// Release, with a deferring LocalPart, waits until every recipient was
	// deferred at least once, measures the engine's memory, then makes the
	// sink accept LocalPart and times the drain. Default false.
	Release bool `yaml:"release"`
	// Timeout bounds the wait for every recipient to be delivered or
	// bounced. Default 10m.
	Timeout time.Duration `yaml:"timeout"`
	// Engine is merged key by key over the runner's `sluice serve`
	// configuration (same keys as configs/sluice.yaml). Optional.
	Engine map[string]any `yaml:"engine"`

	// Inject is how mail goes in: smtp, grpc (one Inject call per
	// message), grpc-batch (InjectBatch of BatchSize recipients) or
	// grpc-stream (InjectStream). Default smtp.
	Inject string `yaml:"inject"`
	// BatchSize is the recipients per InjectBatch call with inject
	// grpc-batch. Default 1000.
	BatchSize int `yaml:"batch_size"`
	// SinkIPs makes the sink listen on 127.0.0.1 .. 127.0.0.<SinkIPs> at
	// one port; the MX hosts (MXHosts) resolve to them in turn. Default 1.
	SinkIPs int `yaml:"sink_ips"`
	// DeadDomains gives the first DeadDomains domains (d0.test, ...) an MX
	// at a loopback address where nothing listens: their recipients stay
	// deferred, and the run counts them as accounted once every other
	// recipient is delivered or bounced. Default 0.
	DeadDomains int `yaml:"dead_domains"`
	// CrashAfter kills the server (kill -9) once this share of the messages
	// was injected ("50%"), restarts it on the same spool and waits for
	// every acknowledged recipient; the report counts the lost ones.
	// Default "": no crash.
	CrashAfter string `yaml:"crash_after"`
	// Sink is the sink's behaviour profile (bench/sink Profile): a shipped
	// name ("gmail"), a .yaml file (relative to a scenario file's
	// directory) or the profile itself, inline. Optional: without it the
	// sink answers by local part only.
	Sink yaml.Node `yaml:"sink"`
	// Profile is Sink, parsed by Parse; code may set it directly.
	Profile *sink.Profile `yaml:"-"`
}

// Injection modes (Scenario.Inject).
const (
	InjectSMTP       = "smtp"
	InjectGRPC       = "grpc"
	InjectGRPCBatch  = "grpc-batch"
	InjectGRPCStream = "grpc-stream"
)

// Defaults for Scenario.
const (
	DefaultCount       = 1000
	DefaultSize        = "4KB"
	DefaultRcpts       = 1
	DefaultDomains     = 100
	DefaultConcurrency = 20
	DefaultPerConn     = 100
	DefaultLocalPart   = "user"
	DefaultTimeout     = 10 * time.Minute
	DefaultInject      = InjectSMTP
	DefaultBatchSize   = 1000
	DefaultSinkIPs     = 1
	// MaxSinkIPs leaves 127.0.0.254 free for the dead MX.
	MaxSinkIPs = 250
)

// SetDefaults fills every zero field of s with its default.
func (s *Scenario) SetDefaults() {
	for _, f := range []struct {
		p *int
		d int
	}{
		{&s.Count, DefaultCount}, {&s.Rcpts, DefaultRcpts}, {&s.Domains, DefaultDomains},
		{&s.Concurrency, DefaultConcurrency}, {&s.PerConn, DefaultPerConn},
		{&s.BatchSize, DefaultBatchSize}, {&s.SinkIPs, DefaultSinkIPs},
	} {
		if *f.p == 0 {
			*f.p = f.d
		}
	}
	if s.Size == "" {
		s.Size = DefaultSize
	}
	if s.LocalPart == "" {
		s.LocalPart = DefaultLocalPart
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Inject == "" {
		s.Inject = DefaultInject
	}
}

// Validate reports the first field of s that is missing or out of range.
// Call it after SetDefaults.
func (s *Scenario) Validate() error {
	if s.Name == "" {
		return errors.New("scenario: name is required")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"count", s.Count}, {"rcpts", s.Rcpts}, {"domains", s.Domains},
		{"concurrency", s.Concurrency}, {"per_conn", s.PerConn},
		{"batch_size", s.BatchSize}, {"sink_ips", s.SinkIPs},
	} {
		if f.v < 1 {
			return fmt.Errorf("scenario %s: %s must be at least 1, got %d", s.Name, f.name, f.v)
		}
	}
	if s.MXHosts < 0 {
		return fmt.Errorf("scenario %s: mx_hosts must not be negative, got %d", s.Name, s.MXHosts)
	}
	if _, err := s.SizeBytes(); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	if s.Timeout < 0 {
		return fmt.Errorf("scenario %s: timeout must be positive, got %s", s.Name, s.Timeout)
	}
	switch s.Inject {
	case InjectSMTP, InjectGRPC, InjectGRPCBatch, InjectGRPCStream:
	default:
		return fmt.Errorf("scenario %s: inject %q: want %s, %s, %s or %s", s.Name, s.Inject,
			InjectSMTP, InjectGRPC, InjectGRPCBatch, InjectGRPCStream)
	}
	if s.SinkIPs > MaxSinkIPs {
		return fmt.Errorf("scenario %s: sink_ips must be at most %d, got %d", s.Name, MaxSinkIPs, s.SinkIPs)
	}
	if s.DeadDomains < 0 || s.DeadDomains >= s.Domains {
		return fmt.Errorf("scenario %s: dead_domains must be from 0 to domains-1 (%d), got %d", s.Name, s.Domains-1, s.DeadDomains)
	}
	if _, err := s.CrashShare(); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	if s.Release && s.CrashAfter != "" {
		return fmt.Errorf("scenario %s: release and crash_after do not mix", s.Name)
	}
	return nil
}

// CrashShare returns CrashAfter as a fraction in (0, 1), or 0 without one.
func (s *Scenario) CrashShare() (float64, error) {
	if s.CrashAfter == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s.CrashAfter), "%")), 64)
	if err != nil || v <= 0 || v >= 100 {
		return 0, fmt.Errorf("crash_after %q: want a share of the messages between 0%% and 100%%, like 50%%", s.CrashAfter)
	}
	return v / 100, nil
}

// DeadRecipient reports whether recipient n of the run (bench/inject's
// numbering: domain d<n mod Domains>) is at a dead domain.
func (s *Scenario) DeadRecipient(n int64) bool { return n%int64(s.Domains) < int64(s.DeadDomains) }

// Recipients returns the number of recipients the scenario injects.
func (s *Scenario) Recipients() int64 { return int64(s.Count) * int64(s.Rcpts) }

// SizeBytes returns Size in bytes.
func (s *Scenario) SizeBytes() (int, error) { return ParseSize(s.Size) }

// ParseSize parses a size like "1KB", "100 KiB", "2MB" or "512": KB and KiB
// are 1024 bytes, MB and MiB 1<<20.
func ParseSize(v string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(v))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 1<<30/mult {
		return 0, fmt.Errorf("size %q: want a positive size like 1KB, 100KB or 2MB", v)
	}
	return n * mult, nil
}

// Parse decodes one scenario from YAML, strictly, fills its defaults and
// validates it. from names the source in errors.
func Parse(from string, data []byte) (Scenario, error) { return parse(from, "", data) }

// parse is Parse with dir, the directory a sink profile file is relative
// to ("": the working directory).
func parse(from, dir string, data []byte) (Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", from, err)
	}
	if err := s.loadProfile(from, dir); err != nil {
		return Scenario{}, err
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", from, err)
	}
	return s, nil
}

// loadProfile sets Profile from the Sink key.
func (s *Scenario) loadProfile(from, dir string) error {
	var err error
	switch n := &s.Sink; n.Kind {
	case 0:
		return nil
	case yaml.ScalarNode:
		name := n.Value
		if ext := path.Ext(name); (ext == ".yaml" || ext == ".yml") && dir != "" && !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		s.Profile, err = sink.LoadProfile(name)
		if err != nil {
			err = fmt.Errorf("line %d: sink: %w", n.Line, err)
		}
	case yaml.MappingNode:
		s.Profile, err = sink.ProfileFromNode(from+" sink", n)
	default:
		err = fmt.Errorf("line %d: sink: want a profile name, a .yaml file or a profile mapping", n.Line)
	}
	if err != nil {
		return fmt.Errorf("scenario %s: %w", from, err)
	}
	return nil
}

// Names returns the names of the embedded scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".") // NB: an embed.FS root always reads
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// Load returns the embedded scenario called name or, when name ends in
// .yaml or .yml, the scenario in that file.
func Load(name string) (Scenario, error) {
	if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
		data, err := os.ReadFile(name)
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario: %w", err)
		}
		return parse(name, filepath.Dir(name), data)
	}
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %q: no such scenario (have %s, or give a .yaml file)",
			name, strings.Join(Names(), ", "))
	}
	return Parse(name+".yaml", data)
}
