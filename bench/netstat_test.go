package bench

import "testing"

func TestParseNetCounters(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n" +
		"Tcp: 1 200 120000 -1 100 90 0 0 5 1000 2000 90234 0 3 0\n" +
		"Udp: InDatagrams\nUdp: 7\n"
	if v, ok := parseRetransSegs([]byte(snmp)); !ok || v != 90234 {
		t.Errorf("RetransSegs = %d, %v; want 90234", v, ok)
	}
	if _, ok := parseRetransSegs([]byte("Ip: a\nIp: 1\n")); ok {
		t.Error("found RetransSegs without a Tcp line")
	}
	soft := "0330b891 00002c1b 00000001 00000000\n03180f00 00000330 00000000 00000000\n"
	if v, ok := parseSoftnetDrops([]byte(soft)); !ok || v != 0x2c1b+0x330 {
		t.Errorf("softnet drops = %d, %v; want %d", v, ok, 0x2c1b+0x330)
	}
	if _, ok := parseSoftnetDrops([]byte("zz yy\n")); ok {
		t.Error("parsed a non-hex softnet_stat")
	}
	if c, ok := readNetCounters(); ok && (c.Retrans < 0 || c.Drops < 0) {
		t.Errorf("this machine's counters are negative: %+v", c)
	}
}
