package run

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. NB: it is 100 on every Linux architecture Go supports;
// reading it needs sysconf(_SC_CLK_TCK), that is cgo, for no gain.
const clockTicks = 100

// procSample is what /proc says about a process at one moment.
type procSample struct {
	CPUSeconds float64 // user + system time so far
	RSSBytes   int64   // VmRSS: resident now
	HWMBytes   int64   // VmHWM: the peak resident set so far
	WriteBytes int64   // write_bytes of /proc/<pid>/io: bytes sent to the storage layer
}

// readProc samples process pid from /proc.
func readProc(pid int) (procSample, error) {
	var ps procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, fmt.Errorf("run: read cpu time of pid %d: %w", pid, err)
	}
	// The command name is in parentheses and may hold spaces: the fields
	// counted from 3 (state) start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ps, fmt.Errorf("run: /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("run: /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return ps, fmt.Errorf("run: /proc/%d/stat: bad utime %q or stime %q", pid, f[11], f[12])
	}
	ps.CPUSeconds = float64(utime+stime) / clockTicks

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, fmt.Errorf("run: read memory of pid %d: %w", pid, err)
	}
	ps.RSSBytes = statusKB(status, "VmRSS:")
	ps.HWMBytes = statusKB(status, "VmHWM:")

	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ps, fmt.Errorf("run: read i/o of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			ps.WriteBytes, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return ps, nil
}

// statusKB returns the value of a "Name:  1234 kB" line of
// /proc/<pid>/status in bytes, or 0.
func statusKB(status []byte, name string) int64 {
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, name); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
