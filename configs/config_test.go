package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse_EmbeddedDefault_IsValid(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spool.Dir != "./data" || cfg.Listen.SMTP != "127.0.0.1:2525" || cfg.Listen.HTTP != "127.0.0.1:8080" ||
		cfg.Listen.GRPC != "127.0.0.1:7070" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.SMTPIn.MaxMessageSize != 50<<20 || cfg.SMTPIn.MaxRecipients != 1000 {
		t.Fatalf("smtp_in defaults: %+v", cfg.SMTPIn)
	}
	if len(cfg.SMTPIn.RelayNetworks) != 2 || cfg.SMTPIn.RelayNetworks[0].String() != "127.0.0.0/8" {
		t.Fatalf("relay_networks: %v", cfg.SMTPIn.RelayNetworks)
	}
	if cfg.Delivery.BounceAfter.D() != 96*time.Hour {
		t.Fatalf("bounce_after: %v", cfg.Delivery.BounceAfter)
	}
}

func TestParse_OverlaysDefaults(t *testing.T) {
	cfg, err := Parse([]byte("spool:\n  dir: /var/spool/sluice\nsmtp_in:\n  max_recipients: 5\n"), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spool.Dir != "/var/spool/sluice" || cfg.SMTPIn.MaxRecipients != 5 {
		t.Fatalf("overrides lost: %+v", cfg)
	}
	if cfg.Spool.MinFreeSpace != 2<<30 || cfg.Listen.SMTP != "127.0.0.1:2525" {
		t.Fatalf("defaults lost: %+v", cfg)
	}
	if cfg.Line("smtp_in.max_recipients") != 4 {
		t.Fatalf("line of smtp_in.max_recipients = %d", cfg.Line("smtp_in.max_recipients"))
	}
}

func TestParse_BadInput_NamesKeyAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "listen:\n  smtp: 127.0.0.1:25\n\n\n\nspool:\n  dirr: x\n", `config: line 7: unknown key "dirr" in spool`},
		{"unknown top-level key", "spoool: {}\n", `config: line 1: unknown key "spoool" in the top level`},
		{"bad size", "smtp_in:\n  max_message_size: 50XB\n", `config: line 2: smtp_in.max_message_size: invalid size "50XB"`},
		{"bad integer", "smtp_in:\n  max_recipients: lots\n", `config: line 2: smtp_in.max_recipients: invalid value "lots" (want a whole number)`},
		{"bad bool", "smtp_in:\n  allow_insecure_auth: yes\n", `config: line 2: smtp_in.allow_insecure_auth: invalid value "yes"`},
		{"bad duration", "smtp_in:\n  data_timeout: soon\n", `config: line 2: smtp_in.data_timeout: invalid duration "soon"`},
		{"bad network", "smtp_in:\n  relay_networks: [10.0.0.0/33]\n", `config: line 2: smtp_in.relay_networks[0]: invalid network "10.0.0.0/33"`},
		{"list where mapping", "spool: [a]\n", `config: line 1: spool must be a mapping of keys, not a list`},
		{"duplicate key", "spool:\n  dir: a\n  dir: b\n", `config: line 3: key "dir" appears twice in spool`},
		{"bad listen", "listen:\n  smtp: nocolon\n", `config: line 2: listen.smtp: invalid address "nocolon"`},
		{"zero recipients", "smtp_in:\n  max_recipients: 0\n", `config: line 2: smtp_in.max_recipients: must be positive`},
		{"cert without key", "smtp_in:\n  tls:\n    cert: a.pem\n", `config: line 2: smtp_in.tls: set both cert and key, or neither`},
		{"bad password hash", "smtp_in:\n  users:\n    - name: bob\n      password_hash: secret\n", `config: line 4: smtp_in.users[0].password_hash: must be a bcrypt hash`},
		{"bad log level", "log: {level: loud}\n", `config: line 1: log.level: invalid level "loud"`},
		{"syntax error", "spool:\n  dir: [\n", `config: line 2: did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "f.yaml")
			if err == nil {
				t.Fatalf("no error for %q", tt.yaml)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error\n  got  %q\n  want prefix %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *configs.Error", err)
			}
		})
	}
}

func TestParse_EmptyFile_IsAllDefaults(t *testing.T) {
	cfg, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spool.Dir != "./data" {
		t.Fatalf("dir = %q", cfg.Spool.Dir)
	}
}

func TestLoad_MissingFile_SaysSo(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestYAML_RoundTrips(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out, "effective")
	if err != nil {
		t.Fatalf("effective config does not parse back: %v\n%s", err, out)
	}
	if again.SMTPIn.MaxMessageSize != cfg.SMTPIn.MaxMessageSize || again.SMTPIn.RelayNetworks[1] != cfg.SMTPIn.RelayNetworks[1] {
		t.Fatalf("round trip changed values:\n%s", out)
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]Size{"0": 0, "512": 512, "4KB": 4096, "4kb": 4096, "50MB": 50 << 20, "2GiB": 2 << 30, "1.5K": 1536, "10 MB": 10 << 20}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "4XB", "1e30GB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestExampleFiles_Parse(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Default)
	f.Add([]byte("spool: {dir: x}\n"))
	f.Add([]byte("smtp_in:\n  users:\n    - {name: a, password_hash: $2a$, from_domains: [x]}\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) && !strings.HasPrefix(err.Error(), "config:") {
				t.Fatalf("error without config prefix: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}

func TestParse_VMTAsPoolsAndRules(t *testing.T) {
	cfg, err := Parse([]byte(`vmtas:
  - {name: ip2, source_ip: 127.0.0.2, helo: mta2.example.test}
  - {name: ip3, source_ip: 127.0.0.3, helo: mta3.example.test, overrides: {max_smtp_out: 2}}
pools:
  - {name: default, members: [{vmta: ip2, weight: 1}, {vmta: ip3, weight: 2}]}
domains:
  - {match: "*.test", max_msg_rate: 100/s, max_smtp_out: 3, max_rcpt_per_msg: 50}
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VMTAs) != 2 || *cfg.VMTAs[1].Overrides.MaxSMTPOut != 2 || cfg.Pools[0].Members[1].Weight != 2 ||
		cfg.Domains[0].MaxMsgRate != "100/s" || *cfg.Domains[0].MaxSMTPOut != 3 || cfg.Domains[0].MaxConnRate != "" {
		t.Fatalf("decoded: %+v", cfg)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"pools:\n  - {name: p, members: [{vmta: nope}]}\n", `config: line 2: pools[0].members[0].vmta: pool "p" names unknown vmta "nope"`},
		{"vmtas:\n  - {name: a, source_ip: 300.1.1.1, helo: h}\n", `config: line 2: vmtas[0].source_ip: invalid IP address "300.1.1.1"`},
		{"domains:\n  - {match: x, max_smtp_outt: 3}\n", `config: line 2: unknown key "max_smtp_outt" in domains[0]`},
	} {
		if _, err := Parse([]byte(tt.yaml), "f.yaml"); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("got %v\nwant %s", err, tt.want)
		}
	}
}

func TestParse_PublicAPIListenerWithoutTLS_Refused(t *testing.T) {
	_, err := Parse([]byte("listen:\n  grpc: 0.0.0.0:7070\n"), "f.yaml")
	if err == nil || !strings.Contains(err.Error(), "line 2: listen.grpc: 0.0.0.0:7070 is not a loopback address") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse([]byte("listen:\n  grpc: 0.0.0.0:7070\napi: {allow_public_without_tls: true}\n"), "f.yaml"); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if _, err := Parse([]byte("api:\n  tls: {client_ca: ca.pem}\n"), "f.yaml"); err == nil || !strings.Contains(err.Error(), "mTLS needs cert and key") {
		t.Fatalf("client_ca alone: %v", err)
	}
}

func TestYAML_HidesSecrets_LeavesTheConfigAlone(t *testing.T) {
	cfg, err := Parse([]byte(`feedback: {verp: {domain: bounces.example.com, key: verp-key-0123456789abcdef}}
webhooks:
  - {name: a, url: "https://h.example/x", authorization: "Bearer tok-123", signing_secret: sign-456}
  - {name: b, url: "https://h.example/y"}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"verp-key-0123456789abcdef", "tok-123", "sign-456"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("YAML shows the secret %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(string(out), Hidden); n != 3 {
		t.Errorf("%d hidden values, want 3 (an unset secret stays empty):\n%s", n, out)
	}
	if cfg.Feedback.VERP.Key != "verp-key-0123456789abcdef" || cfg.Webhooks[0].Authorization != "Bearer tok-123" ||
		cfg.Webhooks[0].SigningSecret != "sign-456" {
		t.Fatalf("YAML changed the config itself: %+v %+v", cfg.Feedback.VERP, cfg.Webhooks[0])
	}
}
