package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stellarfeed/stellarfeed/internal/api"
)

// natsChildEnv makes the test binary a standalone NATS server (JetStream
// on, file storage), a process the test can kill and start again.
const natsChildEnv = "CLUSTER_TEST_NATS"

func runNATSChild() int {
	host, port, err := net.SplitHostPort(os.Getenv("NATS_ADDR"))
	if err != nil {
		fmt.Println("FAIL", err)
		return 1
	}
	p, _ := strconv.Atoi(port)
	srv, err := server.NewServer(&server.Options{Host: host, Port: p, JetStream: true,
		StoreDir: os.Getenv("NATS_STORE"), NoSigs: true})
	if err != nil {
		fmt.Println("FAIL", err)
		return 1
	}
	srv.Start()
	// Generous: a race-instrumented server on one CPU recovering its
	// JetStream store on a loaded machine was seen to take over 10 s.
	if !srv.ReadyForConnections(60 * time.Second) {
		fmt.Println("FAIL not ready")
		return 1
	}
	fmt.Println("READY")
	srv.WaitForShutdown() // until killed
	return 0
}

// startNATS runs a NATS server process on addr with JetStream in store.
func startNATS(t *testing.T, addr, store string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natsChildEnv+"=1", "NATS_ADDR="+addr, "NATS_STORE="+store, "GOMAXPROCS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "READY" {
		t.Fatalf("NATS server process: %q %v", line, err)
	}
	return cmd
}

// countLines counts the lines of the log at path that contain s.
func countLines(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// outageNode is one `stellarfeed run --cluster` process.
type outageNode struct {
	id, ws, log string
	admin       *api.Client
	apiURL      string
}

func startOutageNode(t *testing.T, bin, natsURL, id string, extra ...string) *outageNode {
	t.Helper()
	n := &outageNode{id: id, ws: freePort(t)}
	data := t.TempDir()
	_, n.log = startBinaryIn(t, bin, natsURL, id, n.ws, data, false, extra...)
	addr, err := os.ReadFile(filepath.Join(data, "api.addr"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	n.apiURL = "http://" + strings.TrimSpace(string(addr))
	n.admin = api.NewClient(n.apiURL, strings.TrimSpace(string(tok)), nil)
	return n
}

// ingest posts one ping with sku to the node; it must be accepted.
func (n *outageNode) ingest(t *testing.T, token, sku string) {
	t.Helper()
	req, _ := http.NewRequest("POST", n.apiURL+"/api/pings", strings.NewReader(`{"site":"shopify","sku":"`+sku+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest %s on %s: %d", sku, n.id, resp.StatusCode)
	}
}

// skus returns the SKUs a client received, in order.
func skus(c *wsClient) []string {
	var out []string
	for _, p := range c.received() {
		_, rest, ok := strings.Cut(p, `"sku":"`)
		if sku, _, ok2 := strings.Cut(rest, `"`); ok && ok2 {
			out = append(out, sku)
		}
	}
	return out
}

func has(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestNATSOutage runs two real `stellarfeed run --cluster` processes on a
// NATS server process, kills that server and starts it again on the same
// port and store. During the outage each node keeps its clients, admits new
// ones, and delivers the pings it ingests to them; after it, the nodes
// reconnect by themselves, pings cross again, nothing from the outage is
// replayed (so nothing arrives twice), key changes replicate again, and
// each node logged the outage once.
func TestNATSOutage(t *testing.T) {
	bin := buildStellarfeed(t)
	natsAddr, store := freePort(t), t.TempDir()
	ns := startNATS(t, natsAddr, store)
	url := "nats://" + natsAddr
	n1 := startOutageNode(t, bin, url, "n1")
	n2 := startOutageNode(t, bin, url, "n2")
	ctx := context.Background()
	sub, err := n1.admin.Create(ctx, api.KeyRequest{Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := n1.admin.Create(ctx, api.KeyRequest{Kind: "ingest", Label: "provider"})
	if err != nil {
		t.Fatal(err)
	}
	c1 := dialRetry(t, "n1", n1.ws, sub.Secret, 10*time.Second)
	c2 := dialRetry(t, "n2", n2.ws, sub.Secret, 10*time.Second) // replicated
	// Until a ping from each node reached both clients, subscriptions may
	// still be settling.
	reached := func(c *wsClient, prefix string) bool {
		for _, s := range skus(c) {
			if strings.HasPrefix(s, prefix) {
				return true
			}
		}
		return false
	}
	crossed := func(tag string) {
		t.Helper()
		for i, from := range []*outageNode{n1, n2} {
			prefix, j := fmt.Sprintf("%s-%d-", tag, i), 0
			checkFor(t, 20*time.Second, 50*time.Millisecond, func() bool {
				if reached(c1, prefix) && reached(c2, prefix) {
					return true
				}
				from.ingest(t, tok.Secret, prefix+strconv.Itoa(j))
				j++
				return false
			})
		}
	}
	crossed("warm")

	_ = ns.Process.Kill()
	_ = ns.Wait()
	for _, n := range []*outageNode{n1, n2} {
		checkFor(t, 10*time.Second, 20*time.Millisecond, func() bool { return countLines(t, n.log, "NATS disconnected") == 1 })
	}
	var p, q []string
	for i := range 5 {
		p = append(p, fmt.Sprintf("p%d", i))
		n1.ingest(t, tok.Secret, p[i])
		q = append(q, fmt.Sprintf("q%d", i))
		n2.ingest(t, tok.Secret, q[i])
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
		return has(skus(c1), p[4]) == 1 && has(skus(c2), q[4]) == 1
	})
	// New clients are admitted from the local key store.
	dialRetry(t, "n1-new", n1.ws, sub.Secret, 5*time.Second)
	dialRetry(t, "n2-new", n2.ws, sub.Secret, 5*time.Second)
	outage := time.Now()

	startNATS(t, natsAddr, store)
	for _, n := range []*outageNode{n1, n2} {
		checkFor(t, 20*time.Second, 20*time.Millisecond, func() bool { return countLines(t, n.log, "NATS reconnected") == 1 })
	}
	t.Logf("both nodes reconnected %v after the server came back", time.Since(outage).Round(time.Millisecond))
	crossed("healed")

	got1, got2 := skus(c1), skus(c2)
	for i := range p {
		if has(got1, p[i]) != 1 || has(got1, q[i]) != 0 {
			t.Errorf("client of n1 got %s %d times and %s %d times, want 1 and 0", p[i], has(got1, p[i]), q[i], has(got1, q[i]))
		}
		if has(got2, q[i]) != 1 || has(got2, p[i]) != 0 {
			t.Errorf("client of n2 got %s %d times and %s %d times, want 1 and 0", q[i], has(got2, q[i]), p[i], has(got2, p[i]))
		}
	}
	for _, got := range [][]string{got1, got2} {
		for _, s := range got {
			if has(got, s) != 1 {
				t.Errorf("%s received %d times", s, has(got, s))
			}
		}
	}

	// Key changes replicate again: the KV watch survived the restart.
	k2, err := n1.admin.Create(ctx, api.KeyRequest{Label: "after the outage"})
	if err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	dialRetry(t, "n2-k2", n2.ws, k2.Secret, 5*time.Second)
	t.Logf("a key created after the outage replicated after %v", time.Since(healed).Round(time.Millisecond))

	for _, n := range []*outageNode{n1, n2} {
		for _, line := range []string{"NATS disconnected", "bus: ping not published", "heartbeat failed"} {
			if got := countLines(t, n.log, line); got > 1 {
				t.Errorf("%s logged %q %d times during one outage", n.id, line, got)
			}
		}
	}
}

// restocksOf counts, per SKU, the walmart pings a client received.
func restocksOf(c *wsClient) map[string]int {
	out := map[string]int{}
	for _, p := range c.received() {
		if strings.Contains(p, `"site":"walmart"`) {
			_, rest, _ := strings.Cut(p, `"sku":"`)
			sku, _, _ := strings.Cut(rest, `"`)
			out[sku]++
		}
	}
	return out
}

// TestNATSPartitionEngines: two engine nodes share the targets of a
// simulated retailer through NATS. The server process is killed for
// longer than NodeTTL, so each node runs every target alone; a restock
// then reaches each node's clients once, from its own engine. After the
// server is back and the targets re-shard, a new restock reaches both
// clients once, and the one from the partition is not pinged again
// anywhere.
func TestNATSPartitionEngines(t *testing.T) {
	bin := buildStellarfeed(t)
	srv, simURL := startSim(t)
	natsAddr, store := freePort(t), t.TempDir()
	ns := startNATS(t, natsAddr, store)
	url := "nats://" + natsAddr
	cat := processCatalog()
	var tg strings.Builder
	for _, p := range cat.Products {
		fmt.Fprintf(&tg, "  - {site: walmart, region: USA, sku: %q}\n", p.SKU)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`engine:
  interval: 100ms
  sites: {walmart: {concurrency: 8, rate: 1000, burst: 1000}}
  dedupe: {cooldown: 0}
baseURLs: {walmart.USA: %q}
targets:
%s`, processTargets(simURL)[0].BaseURL, tg.String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := []string{"--config", cfgPath, "--roles", "broadcast,engine,ingest", "--monitors=true"}
	n1 := startOutageNode(t, bin, url, "n1", extra...)
	n2 := startOutageNode(t, bin, url, "n2", extra...)
	sub, err := n1.admin.Create(context.Background(), api.KeyRequest{Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	c1 := dialRetry(t, "n1", n1.ws, sub.Secret, 10*time.Second)
	c2 := dialRetry(t, "n2", n2.ws, sub.Secret, 10*time.Second)
	nodes := []*outageNode{n1, n2}
	// Both engines ran their share past the first checks.
	for _, n := range nodes {
		checkFor(t, 20*time.Second, 50*time.Millisecond, func() bool { return countLines(t, n.log, "engine membership changed") >= 1 })
	}
	passes(t, nodes, len(cat.Products)) // every target past its first, suppressed check
	restock := func(i int) string {
		t.Helper()
		p := cat.Products[i]
		if err := srv.SetStock(p.Site, p.Region, p.SKU, true); err != nil {
			t.Fatal(err)
		}
		return p.SKU
	}
	a := restock(0)
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return restocksOf(c1)[a] == 1 && restocksOf(c2)[a] == 1 })

	changes := func(n *outageNode) int { return countLines(t, n.log, "engine membership changed") }
	before := []int{changes(n1), changes(n2)}
	_ = ns.Process.Kill()
	_ = ns.Wait()
	// NodeTTL (5 s) later each node counts itself alone and runs every
	// target; give the new targets their first, suppressed check.
	for i, n := range nodes {
		checkFor(t, 20*time.Second, 50*time.Millisecond, func() bool { return changes(n) > before[i] })
	}
	passes(t, nodes, len(cat.Products))
	b := restock(1)
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return restocksOf(c1)[b] == 1 && restocksOf(c2)[b] == 1 })

	before = []int{changes(n1), changes(n2)}
	startNATS(t, natsAddr, store)
	for i, n := range nodes {
		checkFor(t, 20*time.Second, 20*time.Millisecond, func() bool { return countLines(t, n.log, "NATS reconnected") == 1 })
		checkFor(t, 20*time.Second, 50*time.Millisecond, func() bool { return changes(n) > before[i] })
	}
	passes(t, nodes, len(cat.Products)) // re-sharded targets past their first check
	c := restock(2)
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return restocksOf(c1)[c] == 1 && restocksOf(c2)[c] == 1 })
	passes(t, nodes, len(cat.Products)) // a repeat would come now
	for i, cl := range []*wsClient{c1, c2} {
		got := restocksOf(cl)
		for _, sku := range []string{a, b, c} {
			if got[sku] != 1 {
				t.Errorf("client of n%d got %s %d times, want once: %v", i+1, sku, got[sku], got)
			}
		}
		if len(got) != 3 {
			t.Errorf("client of n%d got restocks %v, want %s, %s and %s once each", i+1, got, a, b, c)
		}
	}
}

// checks is the number of checks a node's engine made (its /metrics).
func (n *outageNode) checks(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(n.apiURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	total := 0
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "stellarfeed_checks_total{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			total += int(v)
		}
	}
	return total
}

// passes waits until the nodes' engines together made two more checks per
// target than now: each target they run was checked at least once more
// (targets are spread evenly over each interval).
func passes(t *testing.T, nodes []*outageNode, targets int) {
	t.Helper()
	sum := func() int {
		n := 0
		for _, o := range nodes {
			n += o.checks(t)
		}
		return n
	}
	start := sum()
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() bool { return sum() >= start+2*len(nodes)*targets })
}
