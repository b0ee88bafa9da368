package node

import (
	"bufio"
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// TestSSEConnsBehindProxy: an event stream that came through a trusted
// reverse proxy is listed with the real client's address, counts that
// address in the key's usage, and can be kicked like a WebSocket.
func TestSSEConnsBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted api.Proxies
		want    string
	}{
		{"trusted proxy", api.Proxies{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.9"},
		{"untrusted peer", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, Config{API: api.Config{TrustedProxies: tc.trusted}})
			secret, k, err := n.Keys().Create(keys.Options{Kind: keys.KindSubscriber, Label: "sse bot"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.APIAddr().String()+"/api/events/stream?key="+secret, nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6, "+"198.51.100.9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "stellarfeed ping stream") {
				t.Fatalf("stream opening: %q %v", line, err)
			}

			tok, err := os.ReadFile(filepath.Join(n.cfg.DataDir, adminFile))
			if err != nil {
				t.Fatal(err)
			}
			c := api.NewClient("http://"+n.APIAddr().String(), strings.TrimSpace(string(tok)), nil)
			list, err := c.Connections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Connections) != 1 {
				t.Fatalf("connections: %+v", list)
			}
			conn := list.Connections[0]
			if conn.Endpoint != "sse" || conn.KeyID != k.ID || conn.Label != "sse bot" || conn.Remote.String() != tc.want {
				t.Fatalf("listed %+v, want sse from %s", conn, tc.want)
			}
			if u, err := n.Keys().Usage(k.ID); err != nil || u.LastIP.String() != tc.want {
				t.Fatalf("usage last IP %v (%v), want %s", u.LastIP, err, tc.want)
			}
			if err := c.Kick(ctx, conn.ID); err != nil {
				t.Fatalf("kick: %v", err)
			}
			// The stream says why it ends, then ends.
			rest, _ := r.ReadString(0)
			if !strings.Contains(rest, "stream closed: sse: kicked by the provider") {
				t.Fatalf("after kick the stream read %q", rest)
			}
			if err := c.Kick(ctx, conn.ID); err == nil {
				t.Fatal("second kick succeeded")
			}
		})
	}
}
