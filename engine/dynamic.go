package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/pools"
)

// Vmtas and pools defined through the API.
//
// They are kept as spool records beside the mail (cfgvmta/<name> and
// cfgpool/<name>, the JSON of a configs.VMTA or configs.Pool) and merged
// over the file's configuration at start and at every reload: an item
// defined through the API replaces the file's item of the same name. Each
// change builds the merged configuration and validates it whole, with the
// checks of a reload, before anything is stored or applied.

const (
	recVMTA = "cfgvmta/"
	recPool = "cfgpool/"
)

// recordsForever is the expiry of the records: they last until deleted.
var recordsForever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrInvalidConfig is returned (wrapped) by UpsertVMTA, DeleteVMTA,
// UpsertPool and DeletePool for a change that would leave the
// configuration invalid; nothing was changed. When the cause is a
// *configs.Error, errors.As finds it (its Key names the item and field,
// e.g. "vmtas[2].source_ip").
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrDefinedInFile is returned (wrapped) by DeleteVMTA and DeletePool for a
// name that only the configuration file defines: remove it there.
var ErrDefinedInFile = errors.New("defined in the configuration file")

// dynamic is the set of vmtas and pools defined through the API.
type dynamic struct {
	vmtas map[string]configs.VMTA
	pools map[string]configs.Pool
}

// loadDynamic reads the API-defined vmtas and pools from the spool.
func (e *Engine) loadDynamic() (*dynamic, error) {
	d := &dynamic{vmtas: map[string]configs.VMTA{}, pools: map[string]configs.Pool{}}
	vs, err := e.spool.ListRecords(recVMTA)
	if err != nil {
		return nil, fmt.Errorf("engine: api-defined vmtas: %w", err)
	}
	for k, b := range vs {
		var v configs.VMTA
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("engine: api-defined vmta %s: %w", k, err)
		}
		d.vmtas[v.Name] = v
	}
	ps, err := e.spool.ListRecords(recPool)
	if err != nil {
		return nil, fmt.Errorf("engine: api-defined pools: %w", err)
	}
	for k, b := range ps {
		var p configs.Pool
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("engine: api-defined pool %s: %w", k, err)
		}
		d.pools[p.Name] = p
	}
	return d, nil
}

// merge returns a copy of file with d's vmtas and pools over it: an item of
// the same name is replaced in place, new ones follow, by name. file is not
// changed.
func (d *dynamic) merge(file *configs.Config) *configs.Config {
	c := *file
	c.VMTAs = make([]configs.VMTA, 0, len(file.VMTAs)+len(d.vmtas))
	seen := map[string]bool{}
	for _, v := range file.VMTAs {
		if dv, ok := d.vmtas[v.Name]; ok {
			v = dv
		}
		seen[v.Name] = true
		c.VMTAs = append(c.VMTAs, v)
	}
	for _, name := range sortedKeys(d.vmtas) {
		if !seen[name] {
			c.VMTAs = append(c.VMTAs, d.vmtas[name])
		}
	}
	c.Pools = make([]configs.Pool, 0, len(file.Pools)+len(d.pools))
	seen = map[string]bool{}
	for _, p := range file.Pools {
		if dp, ok := d.pools[p.Name]; ok {
			p = dp
		}
		seen[p.Name] = true
		c.Pools = append(c.Pools, p)
	}
	for _, name := range sortedKeys(d.pools) {
		if !seen[name] {
			c.Pools = append(c.Pools, d.pools[name])
		}
	}
	return &c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mergeDynamic returns file with the API-defined vmtas and pools merged
// over it, validated (vmta and pool checks of configs) when there are any;
// with none it returns file itself.
func (e *Engine) mergeDynamic(file *configs.Config) (*configs.Config, error) {
	d, err := e.loadDynamic()
	if err != nil {
		return nil, err
	}
	if len(d.vmtas) == 0 && len(d.pools) == 0 {
		return file, nil
	}
	c := d.merge(file)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("engine: with the vmtas and pools defined through the API: %w: %w", ErrInvalidConfig, err)
	}
	return c, nil
}

// change applies one change to the API-defined set: it merges, validates
// the result whole, stores (or deletes) the record, then applies the
// configuration. On any error nothing changed.
func (e *Engine) change(ctx context.Context, edit func(d *dynamic, file *configs.Config) (key string, value []byte, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	d, err := e.loadDynamic()
	if err != nil {
		return err
	}
	key, value, err := edit(d, e.fileCfg)
	if err != nil {
		return err
	}
	c := d.merge(e.fileCfg)
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	p, err := e.prepareConfig(c, true)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if value != nil {
		err = e.spool.PutRecord(key, value, recordsForever)
	} else {
		err = e.spool.DeleteRecord(key)
	}
	if err != nil {
		return fmt.Errorf("engine: store %s: %w", key, err)
	}
	return e.commitConfig(p)
}

// UpsertVMTA defines vmta v through the API, or replaces it (a vmta of the
// file with the same name included), durably. The whole configuration is
// validated first (errors wrap ErrInvalidConfig): the source IP must be
// configured on this host. An enabled v resumes a vmta an operator
// disabled at run time.
func (e *Engine) UpsertVMTA(ctx context.Context, v configs.VMTA) error {
	err := e.change(ctx, func(d *dynamic, _ *configs.Config) (string, []byte, error) {
		d.vmtas[v.Name] = v
		b, err := json.Marshal(v)
		return recVMTA + v.Name, b, err
	})
	if err != nil {
		return err
	}
	if !v.Disabled {
		if s, ok := e.sender(v.Name); ok && s.Disabled {
			return e.SetVMTADisabled(v.Name, false)
		}
	}
	e.log.Info("vmta defined through the API", "vmta", v.Name, "source_ip", v.SourceIP)
	return nil
}

// DeleteVMTA removes a vmta defined through the API; its queued mail
// drains. When the file defines the name too, the file's vmta takes its
// place again. A name only the file defines fails with ErrDefinedInFile,
// an unknown one with ErrUnknownVMTA; a vmta a pool still names fails with
// ErrInvalidConfig.
func (e *Engine) DeleteVMTA(ctx context.Context, name string) error {
	err := e.change(ctx, func(d *dynamic, file *configs.Config) (string, []byte, error) {
		if _, ok := d.vmtas[name]; !ok {
			if name == DefaultVMTA && len(file.VMTAs) == 0 {
				return "", nil, fmt.Errorf("vmta %q: %w (the implicit default)", name, ErrDefinedInFile)
			}
			for _, v := range file.VMTAs {
				if v.Name == name {
					return "", nil, fmt.Errorf("vmta %q: %w", name, ErrDefinedInFile)
				}
			}
			return "", nil, fmt.Errorf("%w %q", ErrUnknownVMTA, name)
		}
		delete(d.vmtas, name)
		return recVMTA + name, nil, nil
	})
	if err == nil {
		e.log.Info("vmta deleted through the API", "vmta", name)
	}
	return err
}

// UpsertPool defines pool p through the API, or replaces it (a pool of the
// file with the same name included), durably, after validating the whole
// configuration (errors wrap ErrInvalidConfig).
func (e *Engine) UpsertPool(ctx context.Context, p configs.Pool) error {
	err := e.change(ctx, func(d *dynamic, _ *configs.Config) (string, []byte, error) {
		d.pools[p.Name] = p
		b, err := json.Marshal(p)
		return recPool + p.Name, b, err
	})
	if err == nil {
		e.log.Info("pool defined through the API", "pool", p.Name, "members", len(p.Members))
	}
	return err
}

// DeletePool removes a pool defined through the API (the file's pool of the
// same name, if any, takes its place again). A name only the file defines
// fails with ErrDefinedInFile, an unknown one with ErrUnknownPool.
func (e *Engine) DeletePool(ctx context.Context, name string) error {
	err := e.change(ctx, func(d *dynamic, file *configs.Config) (string, []byte, error) {
		if _, ok := d.pools[name]; !ok {
			if name == pools.Default {
				return "", nil, fmt.Errorf("pool %q: %w (the implicit default)", name, ErrDefinedInFile)
			}
			for _, p := range file.Pools {
				if p.Name == name {
					return "", nil, fmt.Errorf("pool %q: %w", name, ErrDefinedInFile)
				}
			}
			return "", nil, fmt.Errorf("%w %q", ErrUnknownPool, name)
		}
		delete(d.pools, name)
		return recPool + name, nil, nil
	})
	if err == nil {
		e.log.Info("pool deleted through the API", "pool", name)
	}
	return err
}
