package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, fixed at 100 on Linux for /proc/PID/stat.
const clockTicks = 100

// procRSS returns VmRSS of pid in bytes, from /proc/PID/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	return parseRSS(b)
}

func parseRSS(b []byte) (int64, error) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("VmRSS %q: %w", f[0], err)
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// procCPU returns utime+stime of pid, from /proc/PID/stat (10 ms ticks).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads fields 14 and 15 of /proc/PID/stat; the command name
// (field 2) may hold spaces and parentheses, so count from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': field 3 is f[0], so utime (14) is f[11], stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want ≥ 13", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

func sortDurations(d []time.Duration) { slices.Sort(d) }
