package bench

import (
	"os"
	"strconv"
	"strings"
)

// netCounters are machine-wide kernel counters read around each regime.
// On loopback a burst of writes larger than net.core.netdev_max_backlog
// (1,000 packets by default) is dropped before TCP sees it (softnet
// "dropped"); the sender retransmits after an RTO of 200 ms or more,
// doubling on each repeat, which is where multi-second tails come from
// on a small machine even for the raw-write floor.
type netCounters struct {
	Retrans int64 // /proc/net/snmp Tcp RetransSegs
	Drops   int64 // /proc/net/softnet_stat column 2, summed over CPUs
}

// readNetCounters reads both; ok is false when either is unavailable.
func readNetCounters() (netCounters, bool) {
	snmp, err1 := os.ReadFile("/proc/net/snmp")
	soft, err2 := os.ReadFile("/proc/net/softnet_stat")
	if err1 != nil || err2 != nil {
		return netCounters{}, false
	}
	r, ok1 := parseRetransSegs(snmp)
	d, ok2 := parseSoftnetDrops(soft)
	return netCounters{Retrans: r, Drops: d}, ok1 && ok2
}

// parseRetransSegs finds RetransSegs in the Tcp: header/value line pair.
func parseRetransSegs(b []byte) (int64, bool) {
	var head []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i, name := range head {
			if name == "RetransSegs" && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				return v, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}

// parseSoftnetDrops sums the second (hex) column of softnet_stat.
func parseSoftnetDrops(b []byte) (int64, bool) {
	var sum int64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 16, 64)
		if err != nil {
			return 0, false
		}
		sum += v
		found = true
	}
	return sum, found
}
