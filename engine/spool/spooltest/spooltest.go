// Package spooltest helps tests of the spool's users check durability: what
// a power cut would leave of a spool kept on Pebble's crashable in-memory FS.
package spooltest

import (
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/sluice-mta/sluice/engine/spool"
)

// SyncedHasRecipient opens, read-only, what a power cut would leave of the
// spool in dir on fs now (synced data only) and reports whether a pending
// recipient with address addr is there.
func SyncedHasRecipient(fs *vfs.MemFS, dir, addr string) (bool, error) {
	sp, err := spool.Open(spool.Options{Dir: dir, FS: fs.CrashClone(vfs.CrashCloneCfg{}), ReadOnly: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return false, err
	}
	defer sp.Close()
	found := false
	err = sp.Recipients(func(r spool.Recipient) bool { found = r.Address == addr; return !found })
	return found, err
}
