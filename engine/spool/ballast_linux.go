package spool

import (
	"os"
	"syscall"
)

// allocate reserves size bytes of real blocks for f (fallocate), so the ballast
// truly holds disk space rather than being a sparse file.
func allocate(f *os.File, size int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
