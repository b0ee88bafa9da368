package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/listen"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/monitors"
	_ "github.com/stellarfeed/stellarfeed/monitors/all" // the engine child runs the real walmart monitor
)

// The multi-process tests re-execute this test binary as a cluster node:
// a minimal stand-in for `stellarfeed run --cluster`, wired the way
// internal/node should wire it (see the report), so that real processes
// can be killed. childEnv selects that mode.
const childEnv = "CLUSTER_TEST_CHILD"

// childAuth adapts the key store to the broadcaster, as internal/node's
// keyAuth does.
type childAuth struct{ st *keys.Store }

func (a childAuth) Authenticate(key string, remote netip.Addr) (broadcast.Identity, error) {
	id, err := a.st.Authenticate(key, remote)
	if err != nil {
		var ae *keys.AuthError
		if errors.As(err, &ae) {
			return broadcast.Identity{}, &broadcast.AuthError{Status: ae.Status, Reason: ae.Reason}
		}
		return broadcast.Identity{}, err
	}
	return broadcast.Identity(id), nil
}

func (a childAuth) Connected(id broadcast.Identity, remote netip.Addr) {
	a.st.Connected(id.KeyID, remote)
}

func (a childAuth) Disconnected(id broadcast.Identity, remote netip.Addr, dur time.Duration, delivered uint64) {
	a.st.Disconnected(id.KeyID, remote, dur, delivered)
}

// processCatalog is the simulated retailer of the engine tests: Walmart
// USA products, all out of stock at first.
func processCatalog() sim.Catalog {
	var ps []sim.Product
	for i := range 6 {
		ps = append(ps, sim.Product{Site: sim.SiteWalmart, Region: "USA", SKU: strconv.Itoa(5113183700 + i),
			Title: fmt.Sprintf("Console bundle %d", i), Price: "399.00",
			Image: fmt.Sprintf("https://i5.walmartimages.com/seo/console-%d.jpeg", i)})
	}
	return sim.Catalog{Products: ps}
}

func processTargets(simURL string) []engine.Target {
	var out []engine.Target
	for _, t := range sim.CatalogTargets(processCatalog(), simURL) {
		out = append(out, engine.Target{Target: t})
	}
	return out
}

// runChildNode runs one node until stdin closes (graceful) or the process
// is killed. It prints "WS addr", "TARGETS n", "WARM n", "INSTOCK n" and
// "READY".
func runChildNode() int {
	env := os.Getenv
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fail := func(err error) int { fmt.Println("FAIL", err); return 1 }
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Printf(format+"\n", args...)
		outMu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	db, err := bolt.Open(filepath.Join(env("CHILD_DATA"), "node.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	st, err := keys.Open(db, keys.WithLogger(log))
	if err != nil {
		return fail(err)
	}
	roles, err := ParseRoles(env("CHILD_ROLES"))
	if err != nil {
		return fail(err)
	}
	cfg := Config{NATS: env("CHILD_NATS"), NodeID: env("CHILD_ID"), Roles: roles,
		Heartbeat: 200 * time.Millisecond, NodeTTL: time.Second, ConnsInterval: 50 * time.Millisecond}
	cl, err := Start(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	// Keys before serving: a client must not be refused for a key the
	// cluster already has.
	if err := cl.SyncKeys(ctx, st); err != nil {
		return fail(err)
	}

	var hub *broadcast.Server
	if cfg.Has(RoleBroadcast) {
		if hub, err = broadcast.New(broadcast.Config{Logger: log}, childAuth{st}); err != nil {
			return fail(err)
		}
		st.Subscribe(func(c keys.Change) {
			if c.CutsAccess() && c.Key.Kind == keys.KindSubscriber {
				go hub.DisconnectKey(c.Key.ID, ws.StatusPolicyViolation, "key "+c.Op.String())
			}
		})
		if err := cl.Subscribe(hub); err != nil {
			return fail(err)
		}
		ln, err := listen.TCP(ctx, env("CHILD_WS"), env("CHILD_REUSEPORT") == "1")
		if err != nil {
			return fail(err)
		}
		go func() { _ = hub.Serve(ln) }()
		say("WS %s", ln.Addr())
	}

	var engineDone chan struct{}
	if cfg.Has(RoleEngine) {
		all := processTargets(env("CHILD_SIM"))
		e, err := engine.New(engine.Options{DefaultInterval: 100 * time.Millisecond, ReloadInterval: 50 * time.Millisecond,
			Claim: cl.Claim, Logger: log}, nil, nil, engine.HubOutput{Publisher: cl.Publisher(), Logger: log})
		if err != nil {
			return fail(err)
		}
		shard := env("CHILD_SHARD") != "0"
		apply := func() {
			ts := all
			if shard {
				ts = cl.Members().FilterTargets(all)
			}
			if err := e.ApplyTargets(ts); err != nil {
				log.Error("apply targets", "err", err)
			}
			say("TARGETS %d", len(ts))
		}
		apply()
		engineDone = make(chan struct{})
		go func() {
			defer close(engineDone)
			_ = e.Run(ctx)
		}()
		go func() {
			warm, inStock := -1, 0
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-cl.Members().Changes():
					apply()
					warm = -1
				case <-t.C:
					// WARM n: every running target has been checked twice, so
					// first-run suppression is behind it.
					sts := e.Status()
					if len(sts) != warm && !slices.ContainsFunc(sts, func(s engine.TargetStatus) bool { return s.Checks < 2 }) {
						warm = len(sts)
						say("WARM %d", warm)
					}
					// INSTOCK n: n targets were checked in stock at least
					// twice, so their restock (or its lost claim) is behind
					// them.
					n := 0
					for _, s := range sts {
						if s.LastOutcome == monitors.InStock.String() && s.Streak >= 2 {
							n++
						}
					}
					if n != inStock {
						inStock = n
						say("INSTOCK %d", n)
					}
				}
			}
		}()
	}
	say("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	if engineDone != nil {
		<-engineDone
	}
	if hub != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = hub.Shutdown(sctx)
		scancel()
	}
	return 0
}

// child is a running node process.
type child struct {
	id    string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ws    string

	mu    sync.Mutex
	lines []string
	more  chan struct{} // signalled on each line
}

// startChild starts a node process and waits for READY.
func startChild(t *testing.T, natsURL, id, roles string, extra ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOMAXPROCS=1",
		"CHILD_NATS="+natsURL, "CHILD_ID="+id, "CHILD_ROLES="+roles,
		"CHILD_DATA="+t.TempDir(), "CHILD_WS=127.0.0.1:0")
	cmd.Env = append(cmd.Env, extra...)
	logf, err := os.Create(filepath.Join(t.TempDir(), id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{id: id, cmd: cmd, stdin: stdin, more: make(chan struct{}, 1)}
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		c.stop()
		<-pumped
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("--- %s log (last 3000 bytes):\n%s", id, tail(b, 3000))
			}
		}
	})
	c.await(t, 20*time.Second, "READY")
	if l, ok := c.find("WS "); ok {
		c.ws = strings.TrimPrefix(l, "WS ")
	}
	return c
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// find returns the last line with prefix.
func (c *child) find(prefix string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(c.lines[i], prefix) {
			return c.lines[i], true
		}
	}
	return "", false
}

// mark is the number of lines so far: awaitAfter ignores older ones.
func (c *child) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// await waits for a line equal to want (or FAIL).
func (c *child) await(t *testing.T, timeout time.Duration, want string) {
	t.Helper()
	c.awaitAfter(t, 0, timeout, want)
}

// awaitAfter waits for a line equal to want among the lines after mark.
func (c *child) awaitAfter(t *testing.T, mark int, timeout time.Duration, want string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		for _, l := range c.lines[mark:] {
			if l == want {
				c.mu.Unlock()
				return
			}
			if strings.HasPrefix(l, "FAIL") {
				c.mu.Unlock()
				t.Fatalf("%s: %s", c.id, l)
			}
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("%s: no %q within %v", c.id, want, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill is a crash: SIGKILL, no cleanup.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// stop ends the child gracefully (stdin closes), killing it after 10 s.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
