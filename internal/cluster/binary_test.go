package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// cmdDir is ./cmd/stellarfeed, from this package's directory.
const cmdDir = "../../cmd/stellarfeed"

// buildStellarfeed builds the real binary, or skips while `stellarfeed
// run` has no --cluster flag (the lead adds --cluster, --node-id,
// --roles and --reuseport to cmd/stellarfeed/run.go; this skip then goes
// away by itself).
func buildStellarfeed(t *testing.T) string {
	t.Helper()
	requireProcesses(t)
	src, err := os.ReadFile(filepath.Join(cmdDir, "run.go"))
	if err != nil {
		t.Skipf("no %s: %v", cmdDir, err)
	}
	for _, flag := range []string{`"cluster"`, `"node-id"`, `"roles"`, `"reuseport"`} {
		if !bytes.Contains(src, []byte(flag)) {
			t.Skipf("stellarfeed run has no %s flag yet (cmd/stellarfeed/run.go): wire internal/cluster into cmd/ and internal/node, then this test runs", flag)
		}
	}
	bin := filepath.Join(t.TempDir(), "stellarfeed")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = cmdDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/stellarfeed: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBinary runs `stellarfeed run` as a cluster node and waits until its
// WebSocket port accepts connections.
func startBinary(t *testing.T, bin, natsURL, id, wsAddr string, reuse bool) *exec.Cmd {
	t.Helper()
	cmd, _ := startBinaryIn(t, bin, natsURL, id, wsAddr, t.TempDir(), reuse)
	return cmd
}

// startBinaryIn is startBinary on a given data directory, with extra
// flags (later flags win); it also returns the path of the process's log.
func startBinaryIn(t *testing.T, bin, natsURL, id, wsAddr, dataDir string, reuse bool, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	args := []string{"run", "--cluster", natsURL, "--node-id", id, "--roles", "broadcast,ingest",
		"--data", dataDir, "--ws-addr", wsAddr, "--api-addr", "127.0.0.1:0", "--demo=false", "--monitors=false"}
	if reuse {
		args = append(args, "--reuseport")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(t.TempDir(), id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log:\n%s", id, tail(b, 3000))
		}
	})
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() bool {
		c, err := net.DialTimeout("tcp", wsAddr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd, logf.Name()
}

// TestStellarfeedBinaryCluster runs 3 real `stellarfeed run --cluster`
// processes (two sharing one port with --reuseport) against an embedded
// NATS in this process: pings published here reach every client exactly
// once, a killed node loses nothing for the others, and a revocation here
// closes the key's connections on every node.
func TestStellarfeedBinaryCluster(t *testing.T) {
	bin := buildStellarfeed(t)
	ctl := startEmbedded(t, fastConfig("ctl", RoleIngest))
	st := openStore(t)
	if err := ctl.SyncKeys(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	shared, own := freePort(t), freePort(t)
	startBinary(t, bin, ctl.URL(), "b0", shared, true)
	startBinary(t, bin, ctl.URL(), "b1", shared, true)
	b2 := startBinary(t, bin, ctl.URL(), "b2", own, false)

	secret, k, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	var onShared, onOwn []*wsClient
	for i := range 6 {
		onShared = append(onShared, dialRetry(t, fmt.Sprintf("shared-%d", i), shared, secret, 10*time.Second))
	}
	for i := range 3 {
		onOwn = append(onOwn, dialRetry(t, fmt.Sprintf("b2-%d", i), own, secret, 10*time.Second))
	}
	pub := ctl.Publisher()
	all := append(slices.Clone(onShared), onOwn...)
	start := warmUp(t, pub, all)
	want := publishPings(t, pub, 0, 20)
	for i, c := range all {
		expectExactly(t, c, start[i], want)
	}

	_ = b2.Process.Kill()
	_ = b2.Wait()
	want2 := publishPings(t, pub, 20, 20)
	for i, c := range onShared {
		expectExactly(t, c, start[i]+len(want), want2)
	}
	for _, c := range onOwn {
		checkFor(t, 2*time.Second, 10*time.Millisecond, c.closed)
	}
	moved := dialRetry(t, "moved", shared, secret, 5*time.Second)

	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(onShared, moved) {
		checkFor(t, time.Second, 5*time.Millisecond, c.closed)
		c.mu.Lock()
		var ce wsutil.ClosedError
		if !errors.As(c.err, &ce) || ce.Code != ws.StatusPolicyViolation {
			t.Errorf("client %s ended with %v, want close 1008", c.node, c.err)
		}
		c.mu.Unlock()
	}
}
