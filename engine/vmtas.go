package engine

import (
	"fmt"
	"sort"

	"github.com/sluice-mta/sluice/pools"
)

// VMTAInfo describes a virtual MTA for listings.
type VMTAInfo struct {
	Name     string `json:"name"`
	SourceIP string `json:"source_ip"`
	HELO     string `json:"helo"`
	Disabled bool   `json:"disabled"`
	Removed  bool   `json:"removed,omitempty"`
	Queued   int64  `json:"queued_recipients"`
}

// PoolInfo describes a pool for listings.
type PoolInfo struct {
	Name    string         `json:"name"`
	Members []pools.Member `json:"members"`
}

// VMTAs lists the virtual MTAs with their queued recipient counts.
func (e *Engine) VMTAs() []VMTAInfo {
	st := e.spool.Stats()
	it, err := e.state.Txn(false).Get("vmta", "id")
	if err != nil {
		return nil
	}
	var out []VMTAInfo
	for obj := it.Next(); obj != nil; obj = it.Next() {
		s := obj.(*sender)
		src := ""
		if s.Source.IsValid() {
			src = s.Source.String()
		}
		out = append(out, VMTAInfo{Name: s.Name, SourceIP: src, HELO: s.HELO, Disabled: s.Disabled, Removed: s.Removed,
			Queued: st.ByVMTA[s.Name]})
	}
	return out
}

// Pools lists the pools.
func (e *Engine) Pools() []PoolInfo {
	it, err := e.state.Txn(false).Get("pool", "id")
	if err != nil {
		return nil
	}
	var out []PoolInfo
	for obj := it.Next(); obj != nil; obj = it.Next() {
		p := obj.(*poolRow).Pool
		out = append(out, PoolInfo{Name: p.Name(), Members: p.Members()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetVMTADisabled disables or enables a vmta at run time. A disabled vmta
// takes no new mail from pools and its queues are paused (mail stays
// queued); enabling it resumes them. The state survives reloads, not
// restarts (the file's `disabled:` is the lasting switch).
func (e *Engine) SetVMTADisabled(name string, disabled bool) error {
	txn := e.state.Txn(true)
	defer txn.Abort()
	obj, err := txn.First("vmta", "id", name)
	if err != nil || obj == nil {
		return fmt.Errorf("%w %q", ErrUnknownVMTA, name)
	}
	s := *obj.(*sender)
	s.Disabled = disabled
	if err := txn.Insert("vmta", &s); err != nil {
		return err
	}
	txn.Commit()
	if disabled {
		e.Pause(QueueFilter{VMTA: name})
	} else {
		e.Resume(QueueFilter{VMTA: name})
	}
	e.log.Info("vmta state changed", "vmta", name, "disabled", disabled)
	return nil
}
