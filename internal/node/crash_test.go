package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// buildBinary builds ./cmd/stellarfeed into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the stellarfeed binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "stellarfeed")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../../cmd/stellarfeed"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/stellarfeed: %v\n%s", err, out)
	}
	return bin
}

// proc is one `stellarfeed run` process; its log lines are kept.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
	cond  chan struct{} // closed and replaced on every new line
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{}), cond: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.cond)
			p.cond = make(chan struct{})
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.cmd.Args, strings.Join(p.log(), "\n"))
		}
	})
	return p
}

func (p *proc) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// await returns the first log line matching re, waiting for it.
func (p *proc) await(t *testing.T, within time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(within)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if m := re.FindStringSubmatch(p.lines[i]); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		cond := p.cond
		p.mu.Unlock()
		select {
		case <-cond:
		case <-p.done:
			t.Fatalf("process exited before logging %s", re)
		case <-timeout:
			t.Fatalf("no log line %s within %v", re, within)
		}
	}
}

// restocks lists the SKUs a process logged restocks for.
func restocks(p *proc) []string {
	var out []string
	for _, l := range p.log() {
		if m := reRestock.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

var (
	reRestock   = regexp.MustCompile(`msg="engine: restock" .* sku=(\S+)`)
	reServing   = regexp.MustCompile(`msg=serving ws=(\S+) api=(\S+)`)
	reRecovered = regexp.MustCompile(`msg="data directory recovered" keys=(\d+) dedupeStates=(\d+) dedupeTargets=(\d+) lastUsageFlush=(\S+) previousShutdown="?([a-z]+)`)
)

// watcher is a Stellar client that records the SKUs of the restocks it
// receives.
type watcher struct {
	conn io.Closer
	done chan struct{}
	mu   sync.Mutex
	skus []string
}

func watch(t *testing.T, wsAddr, secret string) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+wsAddr+"/?key="+secret)
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	w := &watcher{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			data, op, err := wsutil.ReadServerData(conn)
			if err != nil {
				return
			}
			var p stellar.Ping
			if op == ws.OpText && json.Unmarshal(data, &p) == nil && p.Site == "walmart" {
				w.mu.Lock()
				w.skus = append(w.skus, p.SKU)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *watcher) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.skus...)
}

func (w *watcher) close() { w.conn.Close(); <-w.done }

// checks sums stellarfeed_checks_total over outcomes.
func checks(t *testing.T, apiAddr string) int {
	return sumMetric(t, apiAddr, "stellarfeed_checks_total{")
}

// sumMetric sums the series whose line starts with prefix.
func sumMetric(t *testing.T, apiAddr, prefix string) int {
	t.Helper()
	_, body := get(t, "http://"+apiAddr+"/metrics")
	n := 0
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

// dialStatus is the HTTP status of a WebSocket handshake with secret.
func dialStatus(wsAddr, secret string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws://"+wsAddr+"/?key="+secret)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols
	}
	var se ws.StatusError
	if errors.As(err, &se) {
		return int(se)
	}
	return -1
}

// TestKill9 runs the real binary on one data directory against a
// simulated retailer (in this process, so its stock survives the
// binary), drives ingest, key creations and rotations, stock flips (dedupe
// writes) and 50 ms usage flushes, and SIGKILLs it at seeded random
// moments. After each restart: the start reports an unclean shutdown and
// what it found; every key whose creation got a 2xx authenticates with its
// latest acknowledged secret and a rotated key's old secret does not; and
// no product already pinged is pinged again (its stock did not change).
// A last graceful stop is reported as clean.
func TestKill9(t *testing.T) {
	bin := buildBinary(t)
	const nProducts, rounds = 24, 4
	var cat sim.Catalog
	for i := range nProducts {
		cat.Products = append(cat.Products, sim.Product{Site: sim.SiteWalmart, Region: "USA", SKU: strconv.Itoa(5213183700 + i),
			Title: fmt.Sprintf("Crash console %d", i), Price: "399.00", Image: fmt.Sprintf("https://i5.walmartimages.com/seo/crash-%d.jpeg", i)})
	}
	srv, simURL := startSimServer(t, cat)
	data := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	var tg strings.Builder
	for _, p := range cat.Products {
		fmt.Fprintf(&tg, "  - {site: walmart, region: USA, sku: %q}\n", p.SKU)
	}
	base := sim.CatalogTargets(cat, simURL)[0].BaseURL
	cfg := fmt.Sprintf(`server: {ws: "127.0.0.1:0", api: "127.0.0.1:0", data: %q}
engine:
  interval: 100ms
  sites: {walmart: {concurrency: 8, rate: 1000, burst: 1000}}
  dedupe: {cooldown: 0, firstRunSuppression: false}
baseURLs: {walmart.USA: %q}
targets:
%s`, data, base, tg.String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--config", cfgPath, "--usage-flush", "50ms", "--log-format", "text"}

	rng := rand.New(rand.NewPCG(10, 9))
	type subKey struct{ id, secret, old string }
	var (
		keysMu  sync.Mutex
		created []*subKey // creations that got a 2xx, latest acknowledged secret
		unsure  = map[string]bool{}
	)
	pinged := map[string]bool{} // SKUs a watcher received
	next := 0                   // next product to put in stock
	var watcherKey, ingestTok string

	for round := 0; round <= rounds; round++ {
		p := startProc(t, bin, args...)
		rec := p.await(t, 30*time.Second, reRecovered)
		addr := p.await(t, 30*time.Second, reServing)
		wsAddr, apiAddr := addr[1], addr[2]
		nKeys, _ := strconv.Atoi(rec[1])
		t.Logf("round %d: recovered keys=%s dedupeStates=%s dedupeTargets=%s lastUsageFlush=%s previousShutdown=%s",
			round, rec[1], rec[2], rec[3], rec[4], rec[5])
		switch {
		case round == 0 && rec[5] != "none":
			t.Fatalf("first start reports previous shutdown %q", rec[5])
		case round > 0 && rec[5] != "unclean":
			t.Fatalf("start after SIGKILL reports previous shutdown %q, want unclean", rec[5])
		case round > 0 && rec[4] == "never":
			t.Fatal("start after runs with 50 ms usage flushes reports no usage flush")
		}
		if len(created) > nKeys {
			t.Fatalf("recovered %d keys; %d creations were acknowledged", nKeys, len(created))
		}
		_, tok, err := LocalAPI(data)
		if err != nil {
			t.Fatal(err)
		}
		admin := api.NewClient("http://"+apiAddr, tok, nil)
		ctx := context.Background()
		if round == 0 {
			wk, err := admin.Create(ctx, api.KeyRequest{Label: "watcher"})
			if err != nil {
				t.Fatal(err)
			}
			it, err := admin.Create(ctx, api.KeyRequest{Kind: "ingest", Label: "provider"})
			if err != nil {
				t.Fatal(err)
			}
			watcherKey, ingestTok = wk.Secret, it.Secret
		}

		// Acknowledged keys authenticate; acknowledged rotations retired
		// the old secret.
		for _, k := range created {
			if unsure[k.id] {
				continue
			}
			if st := dialStatus(wsAddr, k.secret); st != http.StatusSwitchingProtocols {
				t.Errorf("round %d: key %s (acknowledged) answers %d", round, k.id, st)
			}
			if k.old != "" {
				if st := dialStatus(wsAddr, k.old); st != http.StatusUnauthorized {
					t.Errorf("round %d: key %s's secret from before an acknowledged rotation answers %d", round, k.id, st)
				}
			}
		}

		// The engine re-checks every product: a canary restock proves the
		// pipeline runs, then two more full passes must repeat nothing.
		if round == 0 {
			// Every target checked before the first stock change.
			waitFor(t, 20*time.Second, "first passes over the targets", func() bool { return checks(t, apiAddr) >= 3*nProducts })
		}
		w := watch(t, wsAddr, watcherKey)
		canary := cat.Products[next].SKU
		next++
		if err := srv.SetStock(sim.SiteWalmart, "USA", canary, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "canary restock "+canary, func() bool { return strings.Contains(strings.Join(w.got(), " "), canary) })
		c0 := checks(t, apiAddr)
		waitFor(t, 20*time.Second, "two passes over the targets", func() bool { return checks(t, apiAddr) >= c0+2*nProducts })
		// The engine logs each restock before it broadcasts it, and after
		// its dedupe state was committed: the log, not the watcher (which
		// connects after the first checks), is the record of what was
		// pinged. A product set in stock just before a kill and never
		// checked is pinged after the restart, rightly, for the first time.
		for _, sku := range restocks(p) {
			if pinged[sku] {
				t.Errorf("round %d: %s pinged again after the restart, its stock unchanged", round, sku)
			}
		}
		if round == rounds {
			// Last: a graceful stop is recorded as clean.
			w.close()
			_ = p.cmd.Process.Signal(os.Interrupt)
			<-p.done
			p2 := startProc(t, bin, args...)
			if rec := p2.await(t, 30*time.Second, reRecovered); rec[5] != "clean" {
				t.Errorf("start after a graceful stop reports previous shutdown %q", rec[5])
			}
			break
		}

		// Load until a random moment, then SIGKILL.
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { // ingest
			for i := 0; loadCtx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"site":"shopify","sku":"r%d-%d"}`, round, i)
				req, _ := http.NewRequestWithContext(loadCtx, "POST", "http://"+apiAddr+"/api/pings", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+ingestTok)
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		})
		wg.Go(func() { // key creations and rotations
			for i := 0; loadCtx.Err() == nil; i++ {
				if i%2 == 0 || len(created) == 0 {
					ck, err := admin.Create(loadCtx, api.KeyRequest{Label: fmt.Sprintf("r%d-%d", round, i)})
					if err == nil {
						keysMu.Lock()
						created = append(created, &subKey{id: ck.Key.ID, secret: ck.Secret})
						keysMu.Unlock()
					}
					continue
				}
				k := created[i%len(created)]
				if unsure[k.id] {
					continue
				}
				ck, err := admin.Rotate(loadCtx, k.id)
				keysMu.Lock()
				if err == nil {
					k.old, k.secret = k.secret, ck.Secret
				} else {
					unsure[k.id] = true // the kill may have come after the commit
				}
				keysMu.Unlock()
			}
		})
		// Products for this round's restocks, leaving one canary per
		// later start.
		last := min(next+(nProducts-rounds-1)/rounds, nProducts-(rounds-round))
		wg.Go(func() { // restocks: dedupe writes
			for loadCtx.Err() == nil && next < last {
				_ = srv.SetStock(sim.SiteWalmart, "USA", cat.Products[next].SKU, true)
				next++
				select {
				case <-loadCtx.Done():
				case <-time.After(40 * time.Millisecond):
				}
			}
		})
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond) // the kill moment, not a wait for an event
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		stopLoad()
		wg.Wait()
		w.close()
		for _, sku := range restocks(p) {
			pinged[sku] = true
		}
		rotated := 0
		for _, k := range created {
			if k.old != "" {
				rotated++
			}
		}
		t.Logf("round %d: killed; %d key creations and %d rotations acknowledged, %d products pinged so far", round, len(created), rotated, len(pinged))
	}
	if len(pinged) < 2*rounds {
		t.Errorf("only %d products pinged in %d rounds: the test proved little", len(pinged), rounds)
	}
}

// startSimServer serves cat on loopback until the test ends.
func startSimServer(t *testing.T, cat sim.Catalog) (*sim.Server, string) {
	t.Helper()
	srv := sim.New(sim.Config{Catalog: cat, Seed: 7})
	return srv, testutil.Serve(t, srv)
}
