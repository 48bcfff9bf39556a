//go:build !linux

package spool

import "os"

// allocate writes size zero bytes to f: without fallocate this is the portable way
// to make the ballast hold real blocks.
func allocate(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}
