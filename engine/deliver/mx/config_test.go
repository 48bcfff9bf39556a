package mx

import (
	"strings"
	"testing"
	"time"
)

func TestConfig_SetDefaults_FillsZeroFieldsAndPorts(t *testing.T) {
	c := Config{Resolvers: []string{"192.0.2.53", "2001:db8::53", "[2001:db8::54]:5353", "ns.example:53"}}
	c.SetDefaults()
	want := []string{"192.0.2.53:53", "[2001:db8::53]:53", "[2001:db8::54]:5353", "ns.example:53"}
	for i, r := range c.Resolvers {
		if r != want[i] {
			t.Errorf("resolver %d = %q, want %q", i, r, want[i])
		}
	}
	if c.Port != 25 || c.Timeout != 5*time.Second || c.Attempts != 2 || c.MinTTL != 30*time.Second ||
		c.MaxTTL != time.Hour || c.NegativeTTL != 5*time.Minute || c.TempFailTTL != 5*time.Second ||
		c.MaxEntries != 1_000_000 || c.Clock == nil {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after SetDefaults: %v", err)
	}
}

func TestConfig_SetDefaults_NoResolvers_UsesSystemOnes(t *testing.T) {
	var c Config
	c.SetDefaults()
	if len(c.Resolvers) == 0 {
		t.Fatal("no resolvers")
	}
	for _, r := range c.Resolvers {
		if _, err := parseHostPort(r, 0); err != nil {
			t.Errorf("resolver %q: %v", r, err)
		}
	}
}

func TestConfig_Validate_RejectsBadFields(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"port", func(c *Config) { c.Port = 70000 }, "Port"},
		{"timeout", func(c *Config) { c.Timeout = -1 }, "Timeout"},
		{"min above max", func(c *Config) { c.MinTTL = 2 * time.Hour }, "MinTTL"},
		{"resolver", func(c *Config) { c.Resolvers = []string{"host:notaport"} }, "resolver"},
		{"route domain", func(c *Config) { c.Routes = []Route{{Domain: "a.*.example", Hosts: []string{"h"}}} }, "domain"},
		{"route twice", func(c *Config) {
			c.Routes = []Route{{Domain: "a.example", Hosts: []string{"h"}}, {Domain: "A.example.", Hosts: []string{"h"}}}
		}, "twice"},
		{"route no hosts", func(c *Config) { c.Routes = []Route{{Domain: "a.example"}} }, "no hosts"},
		{"route host port", func(c *Config) { c.Routes = []Route{{Domain: "a.example", Hosts: []string{"h:0"}}} }, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Resolvers: []string{"127.0.0.1"}}
			tt.mod(&c)
			c.SetDefaults()
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error about %s", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
