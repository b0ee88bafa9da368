package node

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

func TestFromConfigHandshakes(t *testing.T) {
	file := config.Default()
	file.Server.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.10"}
	file.Broadcast.ProxyProtocol = true
	file.Broadcast.MaxHandshakes = 2048
	file.Broadcast.MaxHandshakesPerIP = 0
	b := FromConfig(file).Broadcast
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32")}
	if !b.ProxyProtocol || b.MaxHandshakes != 2048 || b.MaxHandshakesPerIP >= 0 ||
		len(b.TrustedProxies) != 2 || b.TrustedProxies[0] != want[0] || b.TrustedProxies[1] != want[1] {
		t.Fatalf("got %+v", b)
	}
	if got := FromConfig(config.Default()).Broadcast; got.MaxHandshakesPerIP != 256 || got.ProxyProtocol {
		t.Fatalf("defaults: %+v", got)
	}
}

// TestProxyProtocolRealClientIP: behind a trusted proxy, the client named
// in the PROXY header is the one the key store sees: its lastIP, and its
// distinct-IPs-per-day limit.
func TestProxyProtocolRealClientIP(t *testing.T) {
	file := config.Default()
	file.Server.TrustedProxies = []string{"127.0.0.1"}
	file.Broadcast.ProxyProtocol = true
	cfg := FromConfig(file)
	cfg.Targets = nil
	cfg.DataDir = t.TempDir() // not the file's ./data
	n := startNode(t, cfg)
	secret, k, err := n.keys.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot", MaxIPsPerDay: 1})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(src string) int {
		t.Helper()
		nc, err := net.Dial("tcp", n.WSAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(nc, "PROXY TCP4 "+src+" 127.0.0.1 40000 8080\r\n"+
			"GET /?key="+secret+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := connect("203.0.113.7"); code != http.StatusSwitchingProtocols {
		t.Fatalf("first client: %d", code)
	}
	waitConns(t, n, 1)
	if code := connect("203.0.113.8"); code != http.StatusForbidden {
		t.Fatalf("second IP of a one-IP key: %d, want 403", code)
	}
	u, err := n.keys.Usage(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.LastIP != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("lastIP %v, want the client behind the proxy", u.LastIP)
	}
	conns := n.Hub().Conns()
	if len(conns) != 1 || conns[0].Remote != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("connection list %+v", conns)
	}
}
