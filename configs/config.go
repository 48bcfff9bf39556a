package configs

import (
	_ "embed"
	"net/netip"
)

// Default is the embedded default configuration file (sluice.yaml).
//
//go:embed sluice.yaml
var Default []byte

// DefaultName is the name errors use for the embedded default.
const DefaultName = "embedded sluice.yaml"

// Config is the whole configuration file.
type Config struct {
	Spool    Spool    `yaml:"spool"`
	Listen   Listen   `yaml:"listen"`
	SMTPIn   SMTPIn   `yaml:"smtp_in"`
	Delivery Delivery `yaml:"delivery"`
	Log      Log      `yaml:"log"`

	// lines maps a dotted key path ("smtp_in.tls.cert") to its line in the
	// file, so that Validate can name the line of a bad value.
	lines map[string]int
}

// Spool configures the on-disk queue.
type Spool struct {
	// Dir is the spool directory. Default "./data".
	Dir string `yaml:"dir"`
	// MinFreeSpace: new mail is refused with 452 4.3.1 while the spool's
	// file system has less free space than this. Default 2GiB.
	MinFreeSpace Size `yaml:"min_free_space"`
	// BallastSize is the size of <dir>/ballast, a file an operator deletes
	// to recover a full disk. 0 disables it. Default 256MiB.
	BallastSize Size `yaml:"ballast_size"`
}

// Listen holds the listener addresses (host:port). An empty address
// disables that listener.
type Listen struct {
	// SMTP is the injection listener. Default 127.0.0.1:2525.
	SMTP string `yaml:"smtp"`
	// HTTP serves /healthz and /metrics. Default 127.0.0.1:8080.
	HTTP string `yaml:"http"`
	// GRPC is the gRPC API listener. Default 127.0.0.1:7070.
	GRPC string `yaml:"grpc"`
}

// SMTPIn configures the SMTP injection listener.
type SMTPIn struct {
	// Hostname is the banner and Received: name. Default: the host name.
	Hostname string `yaml:"hostname"`
	// MaxMessageSize: larger messages get 552 5.3.4. Default 50MB.
	MaxMessageSize Size `yaml:"max_message_size"`
	// MaxRecipients per message; more get 452 4.5.3. Default 1000.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxLineLength in bytes including CRLF. Default 1000 (RFC 5321).
	MaxLineLength int `yaml:"max_line_length"`
	// RelayNetworks may inject without AUTH. Default [127.0.0.0/8, ::1/128].
	RelayNetworks []netip.Prefix `yaml:"relay_networks"`
	// Users may inject after AUTH (PLAIN or LOGIN, after STARTTLS).
	Users []User `yaml:"users"`
	// TLS enables STARTTLS when both files are set.
	TLS TLS `yaml:"tls"`
	// AllowInsecureAuth permits AUTH without TLS. Default false.
	AllowInsecureAuth bool `yaml:"allow_insecure_auth"`
	// MaxConnections in total; beyond it clients get 421. Default 1000.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP per client address; beyond it 421. Default 100.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// CommandTimeout waits for each command. Default 5m.
	CommandTimeout Duration `yaml:"command_timeout"`
	// DataTimeout is the absolute deadline for one DATA phase. Default 10m.
	DataTimeout Duration `yaml:"data_timeout"`
	// MinDataRate in bytes per second during DATA. Default 1KB.
	MinDataRate Size `yaml:"min_data_rate"`
	// SessionTimeout is the absolute deadline for a session. Default 30m.
	SessionTimeout Duration `yaml:"session_timeout"`
	// MaxBadCommands before the session is closed with 421. Default 20.
	MaxBadCommands int `yaml:"max_bad_commands"`
}

// User is an SMTP AUTH account.
type User struct {
	// Name is the AUTH user name.
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash (`sluice hash-password` makes one).
	PasswordHash string `yaml:"password_hash"`
	// FromDomains are the MAIL FROM domains this user may use; "*" is any.
	FromDomains []string `yaml:"from_domains"`
}

// TLS names a certificate and key file (PEM).
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Delivery configures outbound delivery.
type Delivery struct {
	// BounceAfter is how long a recipient may stay undelivered before it
	// is bounced. Default 72h.
	BounceAfter Duration `yaml:"bounce_after"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}
