package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
	"github.com/sluice-mta/sluice/engine/shaping"
	"github.com/sluice-mta/sluice/pools"
	"github.com/sluice-mta/sluice/vmta"
	"github.com/sluice-mta/sluice/warmup"
)

// Routing state: where mail leaves from and under which limits.
//
// The vmtas, the pools and the shaping table live in a go-memdb database.
// Readers (Submit's pool pick, the dispatcher, connection planning) take a
// read transaction, a snapshot that never blocks and never sees a reload
// half done; a reload or an operator's enable/disable commits a write
// transaction. Rows are immutable values: a change inserts a new row.

// sender is one vmta as the delivery path sees it.
type sender struct {
	Name     string
	Source   netip.Addr // invalid: the kernel chooses (the implicit default vmta)
	HELO     string
	Disabled bool // takes no new mail from pools; its queues are paused
	Removed  bool // gone from the config: drains, takes no new mail
}

type poolRow struct {
	Name string
	Pool *pools.Pool
}

type tableRow struct {
	ID    string
	Table *shaping.Table
}

var routingSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"vmta": {Name: "vmta", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}}}},
	"pool": {Name: "pool", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}}}},
	"shaping": {Name: "shaping", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}}}},
}}

// routing is one validated generation of the routing configuration.
type routing struct {
	senders []*sender
	pools   []*pools.Pool
	table   *shaping.Table
	routes  []mx.Route
}

// buildRouting validates the vmtas, pools and shaping rules of cfg whole.
// Errors name the key and line.
func buildRouting(cfg *configs.Config, checkBind bool) (*routing, error) {
	r := &routing{}
	if len(cfg.VMTAs) == 0 {
		s := &sender{Name: DefaultVMTA, HELO: cfg.Delivery.HELO}
		if cfg.Delivery.SourceIP != "" {
			s.Source, _ = netip.ParseAddr(cfg.Delivery.SourceIP)
		}
		r.senders = append(r.senders, s)
	}
	for i, c := range cfg.VMTAs {
		key := fmt.Sprintf("vmtas[%d]", i)
		v, err := vmta.New(vmta.Config{Name: c.Name, SourceIP: c.SourceIP, HELO: c.HELO})
		if err != nil {
			return nil, lineErr(cfg, key, err)
		}
		if checkBind {
			if err := v.CheckBindable(); err != nil {
				return nil, lineErr(cfg, key+".source_ip", err)
			}
		}
		r.senders = append(r.senders, &sender{Name: v.Name, Source: v.SourceIP, HELO: v.HELO, Disabled: c.Disabled})
	}
	if err := r.buildPools(cfg); err != nil {
		return nil, err
	}
	return r, r.buildTable(cfg)
}

func (r *routing) buildPools(cfg *configs.Config) error {
	haveDefault := false
	for i, c := range cfg.Pools {
		var ms []pools.Member
		for _, m := range c.Members {
			ms = append(ms, pools.Member{VMTA: m.VMTA, Weight: max(m.Weight, 1)})
		}
		p, err := pools.New(c.Name, ms)
		if err != nil {
			return lineErr(cfg, fmt.Sprintf("pools[%d]", i), err)
		}
		haveDefault = haveDefault || c.Name == pools.Default
		r.pools = append(r.pools, p)
	}
	if !haveDefault { // every vmta, weight 1
		var ms []pools.Member
		for _, s := range r.senders {
			ms = append(ms, pools.Member{VMTA: s.Name, Weight: 1})
		}
		p, err := pools.New(pools.Default, ms)
		if err != nil {
			return err
		}
		r.pools = append(r.pools, p)
	}
	return nil
}

func (r *routing) buildTable(cfg *configs.Config) error {
	d := cfg.Delivery
	def := shaping.DefaultLimits()
	def.MaxSMTPOut, def.MaxMsgPerConnection, def.MaxRcptPerMsg = d.MaxSMTPOut, d.MaxMsgPerConnection, d.MaxRcptPerMsg
	def.RetryAfter = nil
	for _, ra := range d.RetryAfter {
		def.RetryAfter = append(def.RetryAfter, ra.D())
	}
	def.BounceAfter, def.TLS = d.BounceAfter.D(), d.TLS
	domains, err := rulesOf(cfg, "domains", cfg.Domains)
	if err != nil {
		return err
	}
	sites, err := rulesOf(cfg, "sites", cfg.Sites)
	if err != nil {
		return err
	}
	perVMTA := map[string][]shaping.Rule{}
	for i, v := range cfg.VMTAs {
		key := fmt.Sprintf("vmtas[%d]", i)
		own, err := ruleOf(cfg, key+".overrides", v.Overrides)
		if err != nil {
			return err
		}
		own.Match = ""
		rs, err := rulesOf(cfg, key+".domains", v.Domains)
		if err != nil {
			return err
		}
		perVMTA[v.Name] = append([]shaping.Rule{own}, rs...)
	}
	if r.table, err = shaping.NewTable(def, domains, sites, perVMTA); err != nil {
		return &configs.Error{Msg: "shaping: " + err.Error()}
	}
	// Domain rules with a route join the static routes (top-level routes win).
	seen := map[string]bool{}
	for _, rt := range cfg.Routes {
		seen[rt.Domain] = true
		r.routes = append(r.routes, mx.Route{Domain: rt.Domain, Hosts: rt.Hosts})
	}
	for _, rule := range domains {
		if len(rule.Route) > 0 && !seen[rule.Match] {
			seen[rule.Match] = true
			r.routes = append(r.routes, mx.Route{Domain: rule.Match, Hosts: rule.Route})
		}
	}
	return nil
}

func rulesOf(cfg *configs.Config, key string, rs []configs.Rule) ([]shaping.Rule, error) {
	var out []shaping.Rule
	for i, r := range rs {
		sr, err := ruleOf(cfg, fmt.Sprintf("%s[%d]", key, i), r)
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, nil
}

// ruleOf converts one configured rule, parsing its rates.
func ruleOf(cfg *configs.Config, key string, r configs.Rule) (shaping.Rule, error) {
	sr := shaping.Rule{Match: r.Match, MaxSMTPOut: r.MaxSMTPOut, MaxMsgPerConnection: r.MaxMsgPerConnection,
		MaxRcptPerMsg: r.MaxRcptPerMsg, TLS: r.TLS, MXRollup: r.MXRollup, Route: r.Route}
	for _, rt := range []struct {
		name string
		val  string
		dst  **shaping.Rate
	}{{"max_msg_rate", r.MaxMsgRate, &sr.MaxMsgRate}, {"max_conn_rate", r.MaxConnRate, &sr.MaxConnRate}} {
		if rt.val == "" {
			continue
		}
		rate, err := shaping.ParseRate(rt.val)
		if err != nil {
			return sr, lineErr(cfg, key+"."+rt.name, err)
		}
		*rt.dst = &rate
	}
	for _, d := range r.RetryAfter {
		sr.RetryAfter = append(sr.RetryAfter, d.D())
	}
	if r.BounceAfter != nil {
		d := r.BounceAfter.D()
		sr.BounceAfter = &d
	}
	return sr, nil
}

// lineErr names the key and its line in a configuration error.
func lineErr(cfg *configs.Config, key string, err error) error {
	return &configs.Error{Line: cfg.Line(key), Key: key, Msg: key + ": " + err.Error()}
}

// applyRouting commits a routing generation. A vmta that has queued mail
// but left the config stays, marked removed, so its mail drains.
func (e *Engine) applyRouting(r *routing) error {
	txn := e.state.Txn(true)
	defer txn.Abort()
	keep := map[string]bool{}
	for _, s := range r.senders {
		keep[s.Name] = true
		if old, _ := txn.First("vmta", "id", s.Name); old != nil && old.(*sender).Disabled && !s.Disabled {
			c := *s
			c.Disabled = true // an operator's runtime disable survives a reload
			s = &c
		}
		if err := txn.Insert("vmta", s); err != nil {
			return err
		}
	}
	it, err := txn.Get("vmta", "id")
	if err != nil {
		return err
	}
	var gone []*sender
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if s := obj.(*sender); !keep[s.Name] && !s.Removed {
			gone = append(gone, s)
		}
	}
	for _, s := range gone {
		c := *s
		c.Removed = true
		if err := txn.Insert("vmta", &c); err != nil {
			return err
		}
	}
	if _, err := txn.DeleteAll("pool", "id"); err != nil {
		return err
	}
	for _, p := range r.pools {
		if err := txn.Insert("pool", &poolRow{Name: p.Name(), Pool: p}); err != nil {
			return err
		}
	}
	if err := txn.Insert("shaping", &tableRow{ID: "current", Table: r.table}); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

func (e *Engine) sender(name string) (*sender, bool) {
	obj, err := e.state.Txn(false).First("vmta", "id", name)
	if err != nil || obj == nil {
		return nil, false
	}
	return obj.(*sender), true
}

func (e *Engine) pool(name string) (*pools.Pool, bool) {
	obj, err := e.state.Txn(false).First("pool", "id", name)
	if err != nil || obj == nil {
		return nil, false
	}
	return obj.(*poolRow).Pool, true
}

func (e *Engine) table() *shaping.Table {
	obj, _ := e.state.Txn(false).First("shaping", "id", "current")
	return obj.(*tableRow).Table
}

// eligibility answers pools.Eligibility from the current snapshot.
type eligibility struct{ e *Engine }

func (el eligibility) Eligible(vmta, site string) bool {
	s, ok := el.e.sender(vmta)
	return ok && !s.Disabled && !s.Removed
}

var _ pools.Eligibility = eligibility{}

// warmEligibility also passes over members without warm-up headroom.
type warmEligibility struct {
	e    *Engine
	gate *warmup.Gate
}

func (el warmEligibility) Eligible(vmta, site string) bool {
	return eligibility{el.e}.Eligible(vmta, site) && el.gate.HasHeadroom(vmta, site)
}

// ErrUnknownVMTA and ErrUnknownPool are returned (wrapped in
// ErrInvalidEnvelope) for mail that names a vmta or pool not configured.
var (
	ErrUnknownVMTA = errors.New("unknown vmta")
	ErrUnknownPool = errors.New("unknown pool")
	// ErrNoVMTA is returned when a pool has no eligible member (all disabled).
	ErrNoVMTA = errors.New("no eligible vmta in pool")
)

// chooseVMTA picks the vmta for a message: the one it names, else a member
// of the pool it names (or of "default"), by weight, among those enabled.
// It records the pool used on env (for the per-pool counts).
func (e *Engine) chooseVMTA(env *Envelope) (string, error) {
	if env.VMTA != "" {
		s, ok := e.sender(env.VMTA)
		if !ok || s.Removed {
			return "", fmt.Errorf("%w: %w %q", ErrInvalidEnvelope, ErrUnknownVMTA, env.VMTA)
		}
		return s.Name, nil
	}
	name := env.Pool
	if name == "" {
		name = pools.Default
		env.Pool = name
	}
	p, ok := e.pool(name)
	if !ok {
		return "", fmt.Errorf("%w: %w %q", ErrInvalidEnvelope, ErrUnknownPool, name)
	}
	site := ""
	var el pools.Eligibility = eligibility{e}
	if len(env.To) > 0 {
		site = domainOf(env.To[0])
		// NB: warm-up headroom is by MX site; when the domain's site is
		// known from an earlier delivery, members at their cap (plan
		// overflow: pool) are passed over here rather than at delivery.
		if mxSite, ok := e.sites.Load(site); ok {
			site = mxSite.(string)
			if t := e.warm.Load(); t != nil {
				el = warmEligibility{e, &warmup.Gate{Tracker: t, Now: e.clock}}
			}
		}
	}
	v, ok := p.Pick(site, el)
	if !ok {
		return "", fmt.Errorf("%w %q: every member is disabled", ErrNoVMTA, name)
	}
	return v, nil
}

// limits resolves the shaping directives for (vmta, domain, site).
func (e *Engine) limits(vmta, domain, site string) shaping.Limits {
	return e.table().Resolve(vmta, domain, site)
}

// retryAt returns when a recipient that failed attempts times is retried
// under limits' retry_after (the last step repeats), jittered ±10%.
func retryAt(now time.Time, attempts int, steps []time.Duration, jitter float64) time.Time {
	d := steps[min(max(attempts, 0), len(steps)-1)]
	return now.Add(d + time.Duration(jitter*float64(d)))
}
