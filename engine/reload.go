package engine

import (
	"fmt"
	"reflect"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
	"github.com/sluice-mta/sluice/engine/dkim"
	"github.com/sluice-mta/sluice/feedback"
	"github.com/sluice-mta/sluice/warmup"
)

// Reload applies a new configuration to the running engine without
// dropping connections or queued mail: vmtas, pools, shaping rules, routes
// and DNS resolvers. It validates the new configuration whole first; on any
// error nothing changes and the old configuration keeps running.
//
// New limits reach a (vmta, site) pool with its next job, so open
// connections use them from their next transaction. A vmta removed from
// the file drains: its queued mail is still delivered, and pools no longer
// pick it. Settings that need a restart (spool, listeners, smtp_in) are
// reported, not applied.
func (e *Engine) Reload(cfg *configs.Config) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	merged, err := e.mergeDynamic(cfg)
	if err != nil {
		return err
	}
	p, err := e.prepareConfig(merged, true)
	if err != nil {
		return err
	}
	if err := e.commitConfig(p); err != nil {
		return err
	}
	e.fileCfg = cfg
	return nil
}

// preparedConfig is a configuration validated whole and ready to apply.
type preparedConfig struct {
	cfg    *configs.Config
	r      *routing
	signer *dkim.Signer
	res    *mx.Resolver
	warm   *warmup.Tracker
	rules  *feedback.Rules
}

// prepareConfig validates cfg whole (vmtas, pools, shaping, DKIM, warm-up,
// DNS) without changing anything. Callers hold reloadMu.
func (e *Engine) prepareConfig(cfg *configs.Config, checkBind bool) (*preparedConfig, error) {
	r, err := buildRouting(cfg, checkBind)
	if err != nil {
		return nil, err
	}
	signer, err := newSigner(cfg)
	if err != nil {
		return nil, err
	}
	warm, err := newTracker(cfg, e.clock())
	if err != nil {
		return nil, err
	}
	rules, err := loadRules(cfg)
	if err != nil {
		return nil, err
	}
	var res *mx.Resolver // nil when delivery is off: nothing to resolve for
	if e.resolver.Load() != nil {
		if res, err = e.newResolver(cfg, r); err != nil {
			return nil, err
		}
	}
	return &preparedConfig{cfg: cfg, r: r, signer: signer, res: res, warm: warm, rules: rules}, nil
}

// commitConfig applies a prepared configuration to the running engine.
// Callers hold reloadMu.
func (e *Engine) commitConfig(p *preparedConfig) error {
	cfg, r := p.cfg, p.r
	if err := e.applyRouting(r); err != nil {
		return fmt.Errorf("engine: reload: %w", err)
	}
	if err := e.installPolicies(p); err != nil {
		return err
	}
	for _, k := range e.holds.clear("") {
		e.scheduleHead(k) // the new plans may have room
	}
	if p.res != nil {
		e.resolver.Store(p.res)
	}
	if e.conns != nil {
		e.conns.Reconfigure(func(vmta, site, domain string) deliver.Limits {
			return e.deliverLimits(e.limits(vmta, domain, site))
		})
	}
	for _, s := range r.senders {
		if s.Disabled {
			e.Pause(QueueFilter{VMTA: s.Name})
		}
	}
	if err := e.applyWebhooks(cfg.Webhooks); err != nil {
		e.log.Error("reload: webhooks", "err", err)
	}
	for _, key := range restartOnly(e.cfg, cfg) {
		e.log.Warn("reload: this setting changed but needs a restart to take effect", "key", key)
	}
	e.cfg = cfg
	e.log.Info("configuration reloaded", "vmtas", len(r.senders), "pools", len(r.pools))
	return nil
}

// installPolicies puts a prepared configuration's DKIM signer, feedback
// rules and settings, and warm-up tracker in force (start and reload).
func (e *Engine) installPolicies(p *preparedConfig) error {
	e.dkim.Store(p.signer)
	e.installFeedback(p)
	return e.installTracker(p.warm)
}

// restartOnly names the sections that changed but are not reloadable.
func restartOnly(old, cur *configs.Config) []string {
	var out []string
	if !reflect.DeepEqual(old.Spool, cur.Spool) {
		out = append(out, "spool")
	}
	if !reflect.DeepEqual(old.Listen, cur.Listen) {
		out = append(out, "listen")
	}
	if !reflect.DeepEqual(old.SMTPIn, cur.SMTPIn) {
		out = append(out, "smtp_in")
	}
	if !reflect.DeepEqual(old.Acct, cur.Acct) {
		out = append(out, "accounting")
	}
	if old.Log.Format != cur.Log.Format {
		out = append(out, "log.format")
	}
	return out
}
