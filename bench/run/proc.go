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
	// ChildCPUSeconds is the user + system time of the children it has
	// waited for (cutime + cstime).
	ChildCPUSeconds float64
	PPID            int   // parent's pid
	RSSBytes        int64 // VmRSS: resident now
	HWMBytes        int64 // VmHWM: the peak resident set so far
	WriteBytes      int64 // write_bytes of /proc/<pid>/io: bytes sent to the storage layer
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
	if len(f) < 15 {
		return ps, fmt.Errorf("run: /proc/%d/stat: %d fields", pid, len(f))
	}
	var t [4]int64 // utime, stime, cutime, cstime: fields 14 to 17
	for i := range t {
		n, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil {
			return ps, fmt.Errorf("run: /proc/%d/stat: bad field %d %q", pid, 14+i, f[11+i])
		}
		t[i] = n
	}
	ps.CPUSeconds = float64(t[0]+t[1]) / clockTicks
	ps.ChildCPUSeconds = float64(t[2]+t[3]) / clockTicks
	ps.PPID, _ = strconv.Atoi(f[1]) // field 4

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

// treeCPUSeconds returns the CPU time of process pid, of the children it
// has waited for, and of its live children (and theirs): what a server
// made of a master and short-lived workers (Postfix) has used so far.
func treeCPUSeconds(pid int) (float64, error) {
	root, err := readProc(pid)
	if err != nil {
		return 0, err
	}
	total := root.CPUSeconds + root.ChildCPUSeconds
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("run: list processes: %w", err)
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		p, err := readProc(child)
		if err != nil || p.PPID != pid { // gone since the listing, or not ours
			continue
		}
		total += p.CPUSeconds + p.ChildCPUSeconds
	}
	return total, nil
}
