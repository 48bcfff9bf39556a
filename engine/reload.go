package engine

import (
	"fmt"
	"reflect"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/deliver"
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
	r, err := buildRouting(cfg, true)
	if err != nil {
		return err
	}
	signer, err := newSigner(cfg)
	if err != nil {
		return err
	}
	if _, err := WarmupConfig(cfg); err != nil {
		return err
	}
	var res = e.resolver.Load()
	if e.resolver.Load() != nil {
		if res, err = e.newResolver(cfg, r); err != nil {
			return err
		}
	}
	if err := e.applyRouting(r); err != nil {
		return fmt.Errorf("engine: reload: %w", err)
	}
	e.dkim.Store(signer)
	if res != nil {
		e.resolver.Store(res)
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
	for _, key := range restartOnly(e.cfg, cfg) {
		e.log.Warn("reload: this setting changed but needs a restart to take effect", "key", key)
	}
	e.cfg = cfg
	e.log.Info("configuration reloaded", "vmtas", len(r.senders), "pools", len(r.pools))
	return nil
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
	return out
}
