package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
}

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
)

// SetDefaults fills every zero field of s with its default.
func (s *Scenario) SetDefaults() {
	for _, f := range []struct {
		p *int
		d int
	}{
		{&s.Count, DefaultCount}, {&s.Rcpts, DefaultRcpts}, {&s.Domains, DefaultDomains},
		{&s.Concurrency, DefaultConcurrency}, {&s.PerConn, DefaultPerConn},
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
	return nil
}

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
func Parse(from string, data []byte) (Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", from, err)
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", from, err)
	}
	return s, nil
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
		return Parse(name, data)
	}
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %q: no such scenario (have %s, or give a .yaml file)",
			name, strings.Join(Names(), ", "))
	}
	return Parse(name+".yaml", data)
}
