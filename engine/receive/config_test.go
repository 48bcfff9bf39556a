package receive

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestConfig_SetDefaults_FillsDocumentedValues(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.Hostname == "" || c.Logger == nil {
		t.Errorf("Hostname %q, Logger %v", c.Hostname, c.Logger)
	}
	for name, got := range map[string][2]int64{
		"MaxMessageBytes":     {c.MaxMessageBytes, 50 << 20},
		"MaxRecipients":       {int64(c.MaxRecipients), 1000},
		"MaxLineLength":       {int64(c.MaxLineLength), 1000},
		"MaxConnections":      {int64(c.MaxConnections), 1000},
		"MaxConnectionsPerIP": {int64(c.MaxConnectionsPerIP), 100},
		"CommandTimeout":      {int64(c.CommandTimeout), int64(5 * time.Minute)},
		"DataTimeout":         {int64(c.DataTimeout), int64(10 * time.Minute)},
		"MinDataRate":         {c.MinDataRate, 1024},
		"DataRateGrace":       {int64(c.DataRateGrace), int64(30 * time.Second)},
		"SessionTimeout":      {int64(c.SessionTimeout), int64(30 * time.Minute)},
		"MaxBadCommands":      {int64(c.MaxBadCommands), 20},
		"MaxHeaderLines":      {int64(c.MaxHeaderLines), 1000},
		"MaxHops":             {int64(c.MaxHops), 50},
		"MaxAuthFailures":     {int64(c.MaxAuthFailures), 3},
		"AuthFailuresPerIP":   {int64(c.AuthFailuresPerIP), 10},
		"AuthFailureWindow":   {int64(c.AuthFailureWindow), int64(15 * time.Minute)},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %d, want %d", name, got[0], got[1])
		}
	}
	if c.AllowInsecureAuth || c.TLSConfig != nil || len(c.RelayNetworks) != 0 {
		t.Error("a security-relevant default is not the safe one")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestConfig_Validate_RejectsBadValues(t *testing.T) {
	good, _ := bcrypt.GenerateFromPassword([]byte("p"), bcrypt.MinCost)
	for _, tc := range []struct {
		name, want string
		mut        func(*Config)
	}{
		{"open relay /0", "open relay", func(c *Config) { c.RelayNetworks = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")} }},
		{"open relay ::/0", "open relay", func(c *Config) { c.RelayNetworks = []netip.Prefix{netip.MustParsePrefix("::/0")} }},
		{"plain-text password", "not a bcrypt hash", func(c *Config) { c.Users = []User{{Name: "u", PasswordHash: "secret"}} }},
		{"duplicate user", "listed twice", func(c *Config) {
			c.Users = []User{{Name: "u", PasswordHash: string(good)}, {Name: "u", PasswordHash: string(good)}}
		}},
		{"address as from domain", "from_domains", func(c *Config) {
			c.Users = []User{{Name: "u", PasswordHash: string(good), FromDomains: []string{"a@b.com"}}}
		}},
		{"per-IP above global", "exceeds max_connections", func(c *Config) { c.MaxConnectionsPerIP = c.MaxConnections + 1 }},
		{"negative timeout", "command_timeout", func(c *Config) { c.CommandTimeout = -time.Second }},
		{"short line limit", "max_line_length", func(c *Config) { c.MaxLineLength = 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Hostname: "mx.test"}
			c.SetDefaults()
			tc.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHashPassword_VerifiesWithBcrypt(t *testing.T) {
	t.Parallel() // default bcrypt cost is slow under -race
	h, err := HashPassword("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("hunter2")) != nil {
		t.Fatal("hash does not verify")
	}
}

func TestSenderAllowed(t *testing.T) {
	u := &User{FromDomains: []string{"example.com"}}
	wild := &User{FromDomains: []string{AnyDomain}}
	for _, tc := range []struct {
		u    *User
		from string
		want bool
	}{
		{u, "a@example.com", true},
		{u, "a@EXAMPLE.com", true},
		{u, "a@sub.example.com", false},
		{u, "a@example.com.evil", false},
		{u, "", false},
		{&User{}, "a@example.com", false},
		{wild, "a@anything.org", true},
		{wild, "", true},
	} {
		if got := senderAllowed(tc.u, tc.from); got != tc.want {
			t.Errorf("senderAllowed(%v, %q) = %v, want %v", tc.u.FromDomains, tc.from, got, tc.want)
		}
	}
}
