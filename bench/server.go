package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server kinds.
const (
	KindOurs    = "ours"
	KindGorilla = "gorilla"
	KindNbio    = "nbio"
	KindFloor   = "floor"
	KindTarget  = "target"
)

// server is one broadcaster under test, however it was started.
type server struct {
	name    string
	kind    string
	ws      *url.URL
	ingest  string // POST URL
	health  string
	metrics string
	keys    []string
	token   string
	pid     int
	logPath string
	client  *http.Client
	publish func(ctx context.Context, body []byte) error
	stop    func() error
	// nodes are the processes of a cluster (KindCluster), nodes[0] is
	// the one above (ws, ingest, pid); nil for a single process.
	nodes []clusterNode
}

// Target is a server the harness does not start: parsed from
// "ws://host:port/,ingest=http://host:port,key=K,token=T[,pid=PID][,name=N]".
type Target struct {
	Name   string
	WS     string
	Ingest string
	Keys   []string
	Token  string
	PID    int
}

// ParseTarget parses a --target value; errors name the offending part.
func ParseTarget(spec string) (Target, error) {
	parts := strings.Split(spec, ",")
	t := Target{WS: strings.TrimSpace(parts[0])}
	u, err := url.Parse(t.WS)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		return t, fmt.Errorf("target %q: first part must be a ws://host:port URL", spec)
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return t, fmt.Errorf("target %q: %q is not key=value", spec, p)
		}
		switch k {
		case "ingest":
			t.Ingest = v
		case "key":
			t.Keys = append(t.Keys, v)
		case "token":
			t.Token = v
		case "name":
			t.Name = v
		case "pid":
			if t.PID, err = strconv.Atoi(v); err != nil || t.PID <= 0 {
				return t, fmt.Errorf("target %q: pid=%q is not a process id", spec, v)
			}
		default:
			return t, fmt.Errorf("target %q: unknown field %q (fields are ingest, key, token, pid, name)", spec, k)
		}
	}
	iu, err := url.Parse(t.Ingest)
	if t.Ingest == "" || err != nil || iu.Scheme != "http" || iu.Host == "" {
		return t, fmt.Errorf("target %q: ingest=%q must be an http://host:port URL", spec, t.Ingest)
	}
	if len(t.Keys) == 0 {
		return t, fmt.Errorf("target %q: key= is required", spec)
	}
	if t.Name == "" {
		t.Name = KindTarget + "-" + u.Host
	}
	return t, nil
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
	}
}

// fromTarget wraps a running server.
func fromTarget(t Target) (*server, error) {
	ws, _ := url.Parse(t.WS)
	iu, _ := url.Parse(t.Ingest)
	base := iu.Scheme + "://" + iu.Host
	if iu.Path == "" || iu.Path == "/" {
		iu.Path = "/api/pings"
	}
	s := &server{name: t.Name, kind: KindTarget, ws: ws, ingest: iu.String(), health: base + "/healthz",
		metrics: base + "/metrics", keys: t.Keys, token: t.Token, pid: t.PID, client: newHTTPClient(),
		stop: func() error { return nil }}
	s.publish = s.postPing
	return s, nil
}

// errRefused marks a ping the ingest API answered with a non-2xx status.
var errRefused = errors.New("ping refused")

// postPing sends one ping through the ingest API.
func (s *server) postPing(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ingest, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ingest request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", s.ingest, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %w: status %d: %s", s.ingest, errRefused, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// waitHealthy polls GET /healthz until 200, the process exits, or timeout.
func (s *server) waitHealthy(ctx context.Context, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.health, nil)
		resp, err := s.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("%s exited before becoming healthy (log %s)", s.name, s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not healthy at %s within %s: %v", s.name, s.health, timeout, last)
}

// goroutines reads go_goroutines from the server's /metrics, if exposed,
// summed over the nodes of a cluster.
func (s *server) goroutines(ctx context.Context) (int, bool) {
	urls := s.metricsURLs()
	sum := 0
	for _, u := range urls {
		b, err := s.get(ctx, u)
		if err != nil {
			return 0, false
		}
		g, ok := parseGoroutines(b)
		if !ok {
			return 0, false
		}
		sum += g
	}
	return sum, len(urls) > 0
}

// parseGoroutines finds the go_goroutines sample in Prometheus text.
func parseGoroutines(b []byte) (int, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "go_goroutines"); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return int(v), true
			}
		}
	}
	return 0, false
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startProcess runs a server in its own process group with output to a
// log file; stop sends SIGTERM to the group, then SIGKILL after 5 s.
func startProcess(name, logPath string, argv []string) (pid int, exited chan struct{}, stop func() error, err error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, nil, nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	pgid := cmd.Process.Pid
	stop = func() error {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		return nil
	}
	return pgid, exited, stop, nil
}

// startBaseline runs a baseline binary (gorillahub, nbiohub) with fresh
// keys and token.
func startBaseline(ctx context.Context, kind, bin, workDir string, nkeys int) (*server, error) {
	wsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	keys := make([]string, max(nkeys, 1))
	for i := range keys {
		keys[i] = "k" + randomHex(12)
	}
	token := "t" + randomHex(16)
	s := &server{name: kind, kind: kind, keys: keys, token: token, client: newHTTPClient(),
		logPath: filepath.Join(workDir, fmt.Sprintf("%s-%d.log", kind, wsPort))}
	s.ws = &url.URL{Scheme: "ws", Host: fmt.Sprintf("127.0.0.1:%d", wsPort), Path: "/"}
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	s.ingest, s.health, s.metrics = api+"/api/pings", api+"/healthz", api+"/metrics"
	s.publish = s.postPing
	pid, exited, stop, err := startProcess(kind, s.logPath, []string{bin,
		"-ws-addr", s.ws.Host, "-api-addr", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"-keys", strings.Join(keys, ","), "-token", token})
	if err != nil {
		return nil, err
	}
	s.pid, s.stop = pid, stop
	if err := s.waitHealthy(ctx, 30*time.Second, exited); err != nil {
		_ = stop()
		return nil, err
	}
	return s, nil
}

// startOurs follows the stellarfeed CLI contract: keys are created before
// the server starts, the key and the token are the last line of stdout.
func startOurs(ctx context.Context, bin, workDir string, nkeys int) (*server, error) {
	return startOursWith(ctx, bin, workDir, max(nkeys, 1), true, nil)
}

// startOursWith starts one `stellarfeed run` with extra arguments, after
// creating nkeys subscriber keys and, with token, an ingest token in its
// fresh data directory.
func startOursWith(ctx context.Context, bin, workDir string, nkeys int, token bool, extra []string) (*server, error) {
	dataDir, err := os.MkdirTemp(workDir, "ours-data-")
	if err != nil {
		return nil, fmt.Errorf("ours data dir: %w", err)
	}
	lastLine := func(args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, bin, args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		l := strings.TrimSpace(lines[len(lines)-1])
		if l == "" {
			return "", fmt.Errorf("%s %s printed nothing", bin, strings.Join(args, " "))
		}
		return l, nil
	}
	s := &server{name: KindOurs, kind: KindOurs, client: newHTTPClient(),
		logPath: filepath.Join(dataDir, "server.log")}
	for i := 0; i < nkeys; i++ {
		k, err := lastLine("keys", "create", "--data", dataDir)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	if token {
		if s.token, err = lastLine("keys", "create", "--data", dataDir, "--ingest"); err != nil {
			return nil, err
		}
	}
	wsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.ws = &url.URL{Scheme: "ws", Host: fmt.Sprintf("127.0.0.1:%d", wsPort), Path: "/"}
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	s.ingest, s.health, s.metrics = api+"/api/pings", api+"/healthz", api+"/metrics"
	s.publish = s.postPing
	argv := []string{bin, "run",
		"--data", dataDir, "--ws-addr", s.ws.Host, "--api-addr", fmt.Sprintf("127.0.0.1:%d", apiPort), "--demo=false"}
	pid, exited, stop, err := startProcess(KindOurs, s.logPath, append(argv, extra...))
	if err != nil {
		return nil, err
	}
	s.pid, s.stop = pid, stop
	if err := s.waitHealthy(ctx, 30*time.Second, exited); err != nil {
		_ = stop()
		return nil, err
	}
	return s, nil
}

// findUp looks for rel in dir and its parents, then next to this source
// file (a binary built on this machine), and returns the first that exists.
func findUp(rel string) (string, bool) {
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(filepath.Dir(file)), rel)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// buildBaselines compiles the baseline module into outDir.
func buildBaselines(ctx context.Context, srcDir, outDir string) (gorilla, nbio string, err error) {
	if srcDir == "" {
		mod, ok := findUp(filepath.Join("bench", "baselines", "go.mod"))
		if !ok {
			return "", "", errors.New("bench/baselines not found: run from the stellarfeed checkout or pass --baselines DIR")
		}
		srcDir = filepath.Dir(mod)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", outDir+string(filepath.Separator), "./gorillahub", "./nbiohub")
	cmd.Dir = srcDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build baselines in %s: %w: %s", srcDir, err, out)
	}
	return filepath.Join(outDir, "gorillahub"), filepath.Join(outDir, "nbiohub"), nil
}

// buildOurs compiles ./cmd/stellarfeed from the checkout into outDir.
func buildOurs(ctx context.Context, outDir string) (string, error) {
	main, ok := findUp(filepath.Join("cmd", "stellarfeed"))
	if !ok {
		return "", errors.New("cmd/stellarfeed not found: pass --ours-bin")
	}
	out := filepath.Join(outDir, "stellarfeed")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = main
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w: %s", main, err, b)
	}
	return out, nil
}
