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
	// VMTAs are the virtual MTAs (source IPs); none = one vmta "default".
	VMTAs []VMTA `yaml:"vmtas" example:"[{name: ip2, source_ip: 192.0.2.2, helo: mta2.example.com}]"`
	// Pools are the weighted pools of vmtas. Without one named "default",
	// a pool "default" of every vmta (weight 1) is added.
	Pools []Pool `yaml:"pools" example:"[{name: default, members: [{vmta: ip2, weight: 1}]}]"`
	// Domains are shaping rules matched on the recipient domain.
	Domains []Rule `yaml:"domains" example:"[{match: \"*.example.com\", max_msg_rate: 100/s, max_smtp_out: 3}]"`
	// Sites are shaping rules matched on the MX site (the rolled-up MX host
	// names), e.g. "*.google.com" for every domain Gmail hosts.
	Sites  []Rule `yaml:"sites" example:"[{match: \"*.google.com\", max_smtp_out: 10}]"`
	Warmup Warmup `yaml:"warmup"`
	API    API    `yaml:"api"`
	// DKIM are the signing keys, chosen by the From: domain.
	DKIM []DKIMKey `yaml:"dkim" example:"[{domain: shop.example, selector: s1, key_file: /etc/sluice/s1.pem}]"`
	DNS  DNS       `yaml:"dns"`
	// Routes send domains to fixed hosts instead of their MX.
	Routes   []Route    `yaml:"routes" example:"[{domain: \"*.example.com\", hosts: [\"smarthost:587\"]}]"`
	Acct     Accounting `yaml:"accounting"`
	Feedback Feedback   `yaml:"feedback"`
	// Webhooks push the event stream to HTTP receivers.
	Webhooks []Webhook `yaml:"webhooks" example:"[{name: crm, url: \"https://crm.example.com/hooks/sluice\", events: [bounced, complaint]}]"`
	Log      Log       `yaml:"log"`

	// lines maps a dotted key path ("smtp_in.tls.cert") to its line in the
	// file, so that Validate can name the line of a bad value.
	lines map[string]int
}

// Spool configures the on-disk queue.
type Spool struct {
	// Dir is the spool directory. Default "./data".
	Dir string `yaml:"dir"`
	// MinFreeSpace: new mail is refused with 452 4.3.1 while the spool's
	// file system has less free space than this. 0 disables the check.
	// Default 2GiB.
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
	Hostname string `yaml:"hostname" example:"mta1.example.com"`
	// MaxMessageSize: larger messages get 552 5.3.4. Default 50MB.
	MaxMessageSize Size `yaml:"max_message_size"`
	// MaxRecipients per message; more get 452 4.5.3. Default 1000.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxLineLength in bytes including CRLF. Default 1000 (RFC 5321).
	MaxLineLength int `yaml:"max_line_length"`
	// RelayNetworks may inject without AUTH. Default [127.0.0.0/8, ::1/128].
	RelayNetworks []netip.Prefix `yaml:"relay_networks"`
	// Users may inject after AUTH (PLAIN or LOGIN, after STARTTLS).
	Users []User `yaml:"users" example:"[{name: crm, password_hash: \"$2a$10$...\", from_domains: [shop.example]}]"`
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
	// MaxHeaderLines a message's header block may have (fields and their
	// continuation lines); more get 552 5.3.4. Default 1000.
	MaxHeaderLines int `yaml:"max_header_lines"`
	// MaxHops is the most Received: fields a message may carry; more get
	// 554 5.4.6 (a mail loop). Default 50.
	MaxHops int `yaml:"max_hops"`
	// MaxAuthFailures per connection; the one that reaches it gets 421 and
	// the connection is closed. Default 3.
	MaxAuthFailures int `yaml:"max_auth_failures"`
	// AuthFailuresPerIP within AuthFailureWindow, over all connections of
	// one client address; reaching it closes with 421 and refuses AUTH from
	// that address until the window ends. Default 10.
	AuthFailuresPerIP int `yaml:"auth_failures_per_ip"`
	// AuthFailureWindow is the period AuthFailuresPerIP counts over. Default 15m.
	AuthFailureWindow Duration `yaml:"auth_failure_window"`
}

// User is an SMTP AUTH account.
type User struct {
	// Name is the AUTH user name.
	Name string `yaml:"name" example:"crm"`
	// PasswordHash is a bcrypt hash (`sluice hash-password` makes one).
	PasswordHash string `yaml:"password_hash" example:"$2a$10$N9qo8uLOickgx2ZMRZoMye..."`
	// FromDomains are the MAIL FROM domains this user may use; "*" is any.
	FromDomains []string `yaml:"from_domains" example:"[shop.example, news.shop.example]"`
}

// TLS names a certificate and key file (PEM).
type TLS struct {
	// Cert is the certificate chain file (PEM).
	Cert string `yaml:"cert" example:"/etc/sluice/tls/cert.pem"`
	// Key is the private key file (PEM).
	Key string `yaml:"key" example:"/etc/sluice/tls/key.pem"`
}

// Delivery configures outbound delivery. The limits apply per (vmta,
// site): per source IP and receiving MX site.
type Delivery struct {
	// Hold keeps all mail queued and delivers nothing (maintenance, or a
	// node that only accepts). Default false.
	Hold bool `yaml:"hold"`
	// HELO is the name sent in EHLO; "" = the host name. (Virtual MTAs will
	// carry their own.)
	HELO string `yaml:"helo" example:"mta1.example.com"`
	// SourceIP is the default vmta's source address; "" lets the kernel choose.
	SourceIP string `yaml:"source_ip" example:"192.0.2.10"`
	// MXPort is the TCP port of MX hosts. Default 25 (tests use a sink's port).
	MXPort int `yaml:"mx_port"`
	// MaxSMTPOut is the number of concurrent connections per (vmta, site).
	// Default 20.
	MaxSMTPOut int `yaml:"max_smtp_out"`
	// MaxMsgPerConnection is the number of transactions on one connection
	// before it is closed and reopened. Default 1000.
	MaxMsgPerConnection int `yaml:"max_msg_per_connection"`
	// MaxRcptPerMsg is the number of recipients in one transaction. Default 100.
	MaxRcptPerMsg int `yaml:"max_rcpt_per_msg"`
	// IdleTimeout is how long an idle connection is kept open. Default 5s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// TLS is the STARTTLS policy: require, opportunistic or off.
	// Default opportunistic.
	TLS string `yaml:"tls"`
	// Chunking is "auto" (a message of up to 8 MiB goes as one BDAT chunk,
	// pipelined with MAIL and RCPT, to a receiver that offers CHUNKING and
	// PIPELINING: one round trip per transaction instead of two) or "off"
	// (always DATA). Default auto.
	Chunking string `yaml:"chunking"`
	// RetryAfter is the retry schedule after a temporary failure; the last
	// step repeats. Each wait is jittered by ±10%. Default [5m, 10m, 20m, 1h].
	RetryAfter []Duration `yaml:"retry_after"`
	// BounceAfter is how long a recipient may stay undelivered before it
	// is bounced (expiry). Default 4d.
	BounceAfter Duration `yaml:"bounce_after"`
	// Timeouts are the client's per-phase timeouts (RFC 5321 4.5.3.2).
	Timeouts Timeouts `yaml:"timeouts"`
	// BatchSize is how many recipients the scheduler reads from a queue at
	// a time. Default 500.
	BatchSize int `yaml:"batch_size"`
	// MaxInflight bounds the recipients handed to delivery and not yet
	// written back, across all queues: it bounds the delivery path's memory
	// (message bodies, jobs) whatever the backlog. Default 20000.
	MaxInflight int `yaml:"max_inflight"`
}

// Timeouts are the outbound per-phase timeouts.
type Timeouts struct {
	Connect   Duration `yaml:"connect"`    // default 30s
	Greeting  Duration `yaml:"greeting"`   // default 5m
	EHLO      Duration `yaml:"ehlo"`       // default 5m
	Mail      Duration `yaml:"mail"`       // default 5m
	Rcpt      Duration `yaml:"rcpt"`       // default 5m
	DataInit  Duration `yaml:"data_init"`  // default 2m
	DataBlock Duration `yaml:"data_block"` // default 3m
	DataTerm  Duration `yaml:"data_term"`  // default 10m
}

// DNS configures MX resolution.
type DNS struct {
	// Resolvers are "host:port" addresses; empty = /etc/resolv.conf.
	Resolvers []string `yaml:"resolvers" example:"[127.0.0.1:53, 9.9.9.9:53]"`
	// Timeout is per query. Default 5s.
	Timeout Duration `yaml:"timeout"`
}

// Route sends a domain's mail to fixed hosts instead of its MX.
type Route struct {
	// Domain is "example.com" or "*.example.com" (sub-domains only), or "*".
	Domain string `yaml:"domain" example:"*.example.com"`
	// Hosts are "host" or "host:port" smarthosts, tried in order.
	Hosts []string `yaml:"hosts" example:"[smarthost.example.net:587]"`
}

// Accounting configures the accounting log.
type Accounting struct {
	// Dir holds acct-*.csv files; "" = <spool.dir>/acct.
	Dir string `yaml:"dir" example:"/var/log/sluice/acct"`
	// Format is csv or jsonl. Default csv.
	Format string `yaml:"format"`
	// MaxSize rotates a file at this size. Default 100MiB.
	MaxSize Size `yaml:"max_size"`
	// MaxAge rotates a file at this age. Default 1h.
	MaxAge Duration `yaml:"max_age"`
}

// Webhook pushes delivery events to an HTTP receiver: JSON batches POSTed
// in order, at least once, retried with exponential backoff on 5xx, 408,
// 429, 3xx (redirects are not followed), time-outs and connection errors;
// any other 4xx skips the batch (logged). Each webhook keeps its cursor in the spool and resumes after it
// when the node restarts; a new webhook starts with the next event.
type Webhook struct {
	// Name identifies the webhook (logs, metrics, its cursor). Required,
	// unique.
	Name string `yaml:"name" example:"crm"`
	// URL receives the POSTs (http or https).
	URL string `yaml:"url" example:"https://crm.example.com/hooks/sluice"`
	// Events are the event types sent: delivered, deferred, bounced,
	// expired, complaint, action. Empty sends all.
	Events []string `yaml:"events" example:"[bounced, expired, complaint]"`
	// BatchSize is the most events in one POST. Default 100.
	BatchSize int `yaml:"batch_size" example:"500"`
	// FlushInterval is how long a batch that is not full waits for more
	// events. Default 1s.
	FlushInterval Duration `yaml:"flush_interval" example:"5s"`
	// Timeout bounds one POST. Default 10s.
	Timeout Duration `yaml:"timeout" example:"30s"`
	// RetryInitial is the wait after a failed POST; it doubles at each
	// failure up to RetryMax. Default 1s.
	RetryInitial Duration `yaml:"retry_initial" example:"2s"`
	// RetryMax caps the wait between retries (a batch is retried until the
	// receiver takes it). Default 5m.
	RetryMax Duration `yaml:"retry_max" example:"10m"`
	// Authorization is sent as the Authorization header, e.g.
	// "Bearer s3cret". Never logged.
	Authorization string `yaml:"authorization" example:"Bearer 6f1c...e2" secret:"true"`
	// SigningSecret signs each POST: X-Sluice-Signature: sha256=<hex
	// HMAC-SHA256 of "<X-Sluice-Timestamp>.<body>">. Never logged.
	SigningSecret string `yaml:"signing_secret" example:"whsec-long-random-string" secret:"true"`
}

// WebhookEventTypes are the valid values of webhooks[].events (the engine's
// event types).
var WebhookEventTypes = []string{"delivered", "deferred", "bounced", "expired", "complaint", "action"}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info. Info logs a line
	// per recipient outcome (delivered, deferred, bounced, complaint); debug
	// adds a line per SMTP connection and transaction, inbound and outbound;
	// warn keeps only problems (the accounting files still have every
	// outcome). A reload applies a new level.
	Level string `yaml:"level" example:"debug"`
	// Format is text (key=value) or json (one object per line). Default
	// text; changing it needs a restart.
	Format string `yaml:"format" example:"json"`
}

// VMTA is a virtual MTA: a source IP with its HELO name. With no vmtas
// configured, one vmta named "default" sends from delivery.source_ip with
// delivery.helo.
type VMTA struct {
	// Name identifies the vmta (X-Sluice-VMTA, pools, accounting).
	Name string `yaml:"name" example:"ip2"`
	// SourceIP is the address outbound connections bind to (v4 or v6). It
	// must be configured on the host.
	SourceIP string `yaml:"source_ip" example:"192.0.2.2"`
	// HELO is the EHLO name; it should match SourceIP's PTR record.
	HELO string `yaml:"helo" example:"mta2.example.com"`
	// Disabled vmtas take no new mail; their queued mail stays queued.
	Disabled bool `yaml:"disabled"`
	// Overrides are this vmta's own shaping directives (all domains).
	Overrides Rule `yaml:"overrides"`
	// Domains are this vmta's shaping rules per domain pattern.
	Domains []Rule `yaml:"domains"`
	// Warmup assigns a warm-up plan to a new IP.
	Warmup *VMTAWarmup `yaml:"warmup"`
}

// VMTAWarmup names the plan a vmta follows and the day it started.
type VMTAWarmup struct {
	// Plan names a plan of warmup.plans.
	Plan string `yaml:"plan" example:"new-ip"`
	// Start is the first day of the plan, YYYY-MM-DD in the plan's time zone.
	Start string `yaml:"start" example:"2026-11-23"`
}

// Pool is a named, weighted set of vmtas. Mail that names no pool and no
// vmta goes to the pool named "default".
type Pool struct {
	// Name identifies the pool (X-Sluice-Pool, the API's pool field).
	Name string `yaml:"name" example:"default"`
	// Members are the vmtas of the pool with their weights.
	Members []PoolMember `yaml:"members"`
}

// PoolMember is one vmta of a pool with its weight (>= 1, default 1).
type PoolMember struct {
	// VMTA names a vmta of vmtas.
	VMTA string `yaml:"vmta" example:"ip2"`
	// Weight is the member's share of the pool's mail. Default 1.
	Weight int `yaml:"weight" example:"2"`
}

// Rule is a set of shaping directives for the domains (or MX sites) that
// Match names: an exact name, "*.example.com" (sub-domains), or "*". Every
// directive is optional; what a rule leaves out comes from the layers
// before it: delivery defaults < domains < sites < the vmta's own (see
// engine/shaping's doc for the full precedence and why).
type Rule struct {
	// Match is the domain (or, under sites, MX host) pattern: a name,
	// "*.example.com" or "*".
	Match string `yaml:"match" example:"*.example.com"`
	// MaxSMTPOut is the concurrent connections per (vmta, site).
	MaxSMTPOut *int `yaml:"max_smtp_out" example:"3"`
	// MaxMsgPerConnection is the transactions on one connection before it
	// is reopened.
	MaxMsgPerConnection *int `yaml:"max_msg_per_connection" example:"100"`
	// MaxRcptPerMsg is the recipients in one transaction.
	MaxRcptPerMsg *int `yaml:"max_rcpt_per_msg" example:"50"`
	// MaxMsgRate is the message rate per (vmta, site), "100/s" or "1000/h";
	// "" = unset.
	MaxMsgRate string `yaml:"max_msg_rate" example:"100/s"`
	// MaxConnRate is the rate of new connections per (vmta, site), "10/s";
	// "" = unset.
	MaxConnRate string `yaml:"max_conn_rate" example:"10/s"`
	// RetryAfter is the retry schedule after a temporary failure.
	RetryAfter []Duration `yaml:"retry_after" example:"[10m, 30m, 1h]"`
	// BounceAfter is how long a recipient may stay undelivered.
	BounceAfter *Duration `yaml:"bounce_after" example:"2d"`
	// TLS is the STARTTLS policy: require, opportunistic or off.
	TLS string `yaml:"tls" example:"require"`
	// MXRollup puts domains with the same MX hosts into one site (shared
	// connections and limits).
	MXRollup *bool `yaml:"mx_rollup" example:"false"`
	// Route sends the matched mail to these hosts ("host" or "host:port")
	// instead of the MX.
	Route []string `yaml:"route" example:"[relay.example.net:25]"`
}

// API configures the gRPC API and its REST gateway.
type API struct {
	// AllowLoopbackWithoutKey lets clients on 127.0.0.0/8 and ::1 call the
	// API without a key, as admin. The embedded default allows it for the
	// first run; set it to false in production (and behind a local proxy).
	AllowLoopbackWithoutKey bool `yaml:"allow_loopback_without_key"`
	// Keys are the API keys (make one with `sluice api-key new`).
	Keys []APIKey `yaml:"keys"`
	// MaxBatchRecipients bounds one InjectBatch. Default 10000.
	MaxBatchRecipients int `yaml:"max_batch_recipients"`
	// StreamWindow is how many messages of one InjectStream are stored at
	// once before the server stops reading (flow control). Default 64.
	StreamWindow int `yaml:"stream_window"`
	// IdempotencyTTL is how long idempotency results are kept. Default 24h.
	IdempotencyTTL Duration `yaml:"idempotency_ttl"`
	// TLS serves the gRPC and HTTP listeners over TLS when cert and key are
	// set; with client_ca, clients must present a certificate it signed (mTLS).
	TLS APITLS `yaml:"tls"`
	// AllowPublicWithoutTLS lets the gRPC or HTTP listener bind a
	// non-loopback address without TLS (API keys would cross the network in
	// clear). Default false: serve refuses to start.
	AllowPublicWithoutTLS bool `yaml:"allow_public_without_tls"`
}

// APITLS names the API listeners' certificate, key and optional client CA.
type APITLS struct {
	// Cert is the certificate chain file (PEM).
	Cert string `yaml:"cert" example:"/etc/sluice/tls/api.pem"`
	// Key is the private key file (PEM).
	Key string `yaml:"key" example:"/etc/sluice/tls/api.key"`
	// ClientCA is a CA file (PEM); clients must present a certificate it
	// signed (mTLS). "" = no client certificates.
	ClientCA string `yaml:"client_ca" example:"/etc/sluice/tls/clients-ca.pem"`
}

// APIKey is one API key, stored hashed.
type APIKey struct {
	// Name identifies the key in logs.
	Name string `yaml:"name" example:"crm"`
	// KeyHash is "sha256:" and 64 hex digits of the key.
	KeyHash string `yaml:"key_hash" example:"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`
	// Role is inject, admin or read.
	Role string `yaml:"role" example:"inject"`
	// SenderDomains the key may use as envelope sender; empty = any.
	SenderDomains []string `yaml:"sender_domains" example:"[shop.example]"`
	// Pools the key may name; empty = any.
	Pools []string `yaml:"pools" example:"[marketing]"`
}

// DKIMKey signs mail whose From: (or envelope sender) domain is Domain.
type DKIMKey struct {
	// Domain is the signing domain (d=).
	Domain string `yaml:"domain" example:"shop.example"`
	// Selector is the DNS selector (s=): the key is published at
	// <selector>._domainkey.<domain>.
	Selector string `yaml:"selector" example:"s2026"`
	// KeyFile is a PEM private key: RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
	KeyFile string `yaml:"key_file" example:"/etc/sluice/dkim/s2026.pem"`
	// Headers to sign beyond the defaults (From, To, Subject, Date,
	// Message-ID, MIME-Version, Content-Type, List-Unsubscribe[-Post]).
	Headers []string `yaml:"headers" example:"[Reply-To, Cc]"`
}

// Warmup holds the IP warm-up plans (see package warmup).
type Warmup struct {
	// Groups are receiver groups by MX host pattern, e.g.
	// gmail: ["*.google.com", "*.googlemail.com"]; empty = the built-in groups.
	Groups map[string][]string `yaml:"groups" example:"{gmail: [\"*.google.com\"], microsoft: [\"*.outlook.com\"]}"`
	// Plans are the warm-up curves vmtas follow (vmtas[].warmup).
	Plans []WarmupPlan `yaml:"plans"`
}

// WarmupPlan is one warm-up curve.
type WarmupPlan struct {
	// Name identifies the plan (vmtas[].warmup.plan).
	Name string `yaml:"name" example:"new-ip"`
	// Days are the daily caps, day 1 first; after the last day: unlimited.
	Days []int `yaml:"days" example:"[50, 100, 200, 500, 1000, 2000]"`
	// Doubling is the alternative to Days: start, factor (default 2), days.
	Doubling *WarmupDoubling `yaml:"doubling"`
	// AllowPlateaus lets Days repeat a cap (otherwise caps must rise).
	AllowPlateaus bool `yaml:"allow_plateaus"`
	// HourlySpread spreads a day's cap over SendingHours.
	HourlySpread bool `yaml:"hourly_spread"`
	// SendingHours are the hours a day's cap is spread over. Default 0..24.
	SendingHours *WarmupHours `yaml:"sending_hours"`
	// TimeZone of the plan's days, e.g. America/New_York. Default UTC.
	TimeZone string `yaml:"time_zone" example:"Europe/Paris"`
	// Overflow is pool (other members take the excess) or hold. Default pool.
	Overflow string `yaml:"overflow" example:"hold"`
	// CountSendingDays counts only days the IP sent as warm-up days.
	CountSendingDays bool `yaml:"count_sending_days"`
	// Groups give receiver groups their own curve or a fraction of the plan's.
	Groups map[string]WarmupGroupPlan `yaml:"groups"`
	// Health are the thresholds that advance, hold or step back the plan.
	Health *WarmupHealth `yaml:"health"`
}

// WarmupDoubling is a doubling curve.
type WarmupDoubling struct {
	// Start is the first day's cap in recipients (at least 1).
	Start int `yaml:"start" example:"50"`
	// Factor multiplies the cap each day (above 1). Default 2.
	Factor float64 `yaml:"factor" example:"1.5"`
	// Days is how many capped days the curve has; then no cap.
	Days int `yaml:"days" example:"14"`
}

// WarmupHours are sending hours [From, To) in the plan's time zone.
type WarmupHours struct {
	// From is the first sending hour, 0..23. Default 0.
	From int `yaml:"from" example:"8"`
	// To is the hour sending ends (exclusive), 1..24. Default 24.
	To int `yaml:"to" example:"20"`
}

// WarmupGroupPlan is a receiver group's own curve, or a fraction of the plan's.
type WarmupGroupPlan struct {
	// Days are the group's own daily caps.
	Days []int `yaml:"days" example:"[20, 40, 80, 160]"`
	// Doubling is the group's own doubling curve.
	Doubling *WarmupDoubling `yaml:"doubling"`
	// Fraction is the group's share of the plan's daily cap (0..1).
	Fraction float64 `yaml:"fraction" example:"0.5"`
}

// WarmupHealth are the progression thresholds (rates, 0..1).
type WarmupHealth struct {
	// Hold are the rates at or above which a day does not advance the plan.
	// Defaults: deferral 0.05, bounce 0.02, complaint 0.001.
	Hold WarmupRates `yaml:"hold"`
	// StepBack are the rates at or above which the plan steps back.
	// Defaults: deferral 0.20, bounce 0.05, complaint 0.003.
	StepBack WarmupRates `yaml:"step_back"`
	// StepBackSteps is how many days a bad day steps back. Default 1.
	StepBackSteps int `yaml:"step_back_steps" example:"2"`
	// MinSent is the fewest recipients a day needs to be judged; a smaller
	// day advances unjudged. Default 0.
	MinSent int `yaml:"min_sent" example:"200"`
}

// WarmupRates are deferral, bounce and complaint rates.
type WarmupRates struct {
	// Deferral is the deferred share of the day's recipients.
	Deferral float64 `yaml:"deferral" example:"0.1"`
	// Bounce is the bounced share.
	Bounce float64 `yaml:"bounce" example:"0.03"`
	// Complaint is the complaint share.
	Complaint float64 `yaml:"complaint" example:"0.002"`
}

// Feedback configures what Sluice learns from receivers: reply rules and
// their actions, the adaptive rate, VERP return paths and the asynchronous
// bounces sent to them, feedback-loop complaints and the suppression list.
type Feedback struct {
	// RulesFile extends the shipped reply rules (feedback/rules.yaml format);
	// "" uses the shipped ones alone.
	RulesFile string           `yaml:"rules_file" example:"/etc/sluice/rules.yaml"`
	Adaptive  FeedbackAdaptive `yaml:"adaptive"`
	// VERP sets the return path of outgoing mail to a signed address under
	// Domain that names the message and recipient, so a bounce sent to it
	// later is matched to its recipient. Mail for Domain arriving on the
	// SMTP listener is read as a bounce (from any client).
	VERP FeedbackVERP `yaml:"verp"`
	// FBLAddresses are addresses (or "@domain" for a whole domain) whose
	// mail arriving on the SMTP listener is read as ARF complaints (from any
	// client).
	FBLAddresses []string `yaml:"fbl_addresses" example:"[fbl@example.com, \"@fbl.example.com\"]"`
	// Suppression configures the suppression list.
	Suppression FeedbackSuppression `yaml:"suppression"`
	// TrackFor is how long a delivered message is remembered, to tie a
	// later bounce or complaint to its vmta and campaign.
	TrackFor Duration `yaml:"track_for"`
}

// FeedbackVERP names the VERP return-path domain and its signing key.
type FeedbackVERP struct {
	// Domain is the return-path domain; its MX must be this node's SMTP
	// listener.
	Domain string `yaml:"domain" example:"bounces.example.com"`
	// Key signs the return paths (at least 16 characters); keep it secret
	// and stable: a changed key orphans the bounces of mail already sent.
	Key string `yaml:"key" example:"k3y-0f-at-least-16-chars" secret:"true"`
}

// FeedbackSuppression configures the suppression list.
type FeedbackSuppression struct {
	// OnSubmit is what happens to a suppressed recipient at injection:
	// refuse (the whole message, naming the recipient) or drop (the
	// recipient is left out and logged as a bounce).
	OnSubmit string `yaml:"on_submit"`
	// Scope of the entries added automatically: global, sender_domain or
	// tenant.
	Scope string `yaml:"scope"`
	// BounceCategories are the bounce categories that suppress a recipient
	// (complaints always do).
	BounceCategories []string `yaml:"bounce_categories"`
}

// FeedbackAdaptive tunes the adaptive rate per (vmta, site) (see
// feedback.AdaptiveConfig); zero values take its defaults.
type FeedbackAdaptive struct {
	// Off turns the adaptive rate off: the configured limits hold whatever
	// receivers answer (pattern rules still act).
	Off bool `yaml:"off"`
	// DecreaseFactor multiplies the rate and connections of a (vmta, site)
	// on a throttling signal (421, 4.7.x, refused connections). Default 0.5.
	DecreaseFactor float64 `yaml:"decrease_factor"`
	// IncreaseEvery is the quiet time after which the rate climbs one step
	// back towards the configured limits. Default 30s.
	IncreaseEvery Duration `yaml:"increase_every"`
	// Window is the span over which deferral and bounce shares are judged.
	// Default 5m.
	Window Duration `yaml:"window"`
	// WindowMinReplies is the fewest replies in Window before the shares
	// are judged. Default 50.
	WindowMinReplies int `yaml:"window_min_replies"`
	// DeferralPercent is the deferred share of replies in Window that starts
	// a backoff; negative: never. Default 25.
	DeferralPercent float64 `yaml:"deferral_percent"`
	// BouncePercent is the bounced share that starts a backoff; negative:
	// never. Default 20.
	BouncePercent float64 `yaml:"bounce_percent"`
	// BackoffToNormalAfter is how long a backoff must see only good replies
	// before it ends. Default 30m.
	BackoffToNormalAfter Duration `yaml:"backoff_to_normal_after"`
}
