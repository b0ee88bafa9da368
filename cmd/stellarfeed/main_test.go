package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/node"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// run calls the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = realMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestHelpAndUnknown(t *testing.T) {
	code, out, _ := run(t, "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range []string{"run", "keys", "watch", "sim", "config", "version"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %q:\n%s", c, out)
		}
	}
	if code, _, errOut := run(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, %q", code, errOut)
	}
	if code, _, errOut := run(t, "run", "--help"); code != 0 || !strings.Contains(errOut, "STELLARFEED_CONFIG") {
		t.Fatalf("run --help: exit %d, %q", code, errOut)
	}
	if code, _, _ := run(t, "run", "--no-such-flag"); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}

func TestVersion(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || out != "stellarfeed dev\n" {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestKeysLocal(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "keys", "create", "--data", dir, "--label", "customer 42", "--max-conns", "3")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	secret := lastLine(out)
	if !regexp.MustCompile(`^sfk_[0-9A-Za-z]{30,}$`).MatchString(secret) {
		t.Fatalf("secret %q", secret)
	}
	code, out, _ = run(t, "keys", "create", "--ingest", "--data", dir)
	if code != 0 || !strings.HasPrefix(lastLine(out), "sfi_") {
		t.Fatalf("create --ingest: %d %q", code, out)
	}
	code, out, _ = run(t, "keys", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "customer 42") || !strings.Contains(out, "active") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	// Flags may follow the key; the secret itself names the key.
	if code, out, errOut = run(t, "keys", "revoke", secret, "--data", dir); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, "keys", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke:\n%s", out)
	}
	if code, _, errOut := run(t, "keys", "show", "nope", "--data", dir); code != 1 || errOut == "" {
		t.Fatalf("show unknown: %d %q", code, errOut)
	}
}

// TestKeysUpdate: every change shows, a change that changes nothing or a
// scope that is a typo is refused.
func TestKeysUpdate(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "keys", "create", "--data", dir, "--scopes", "amazon:USA,walmart")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	secret := lastLine(out)
	code, out, errOut = run(t, "keys", "update", secret, "--scopes", "", "--data", dir)
	if code != 0 || strings.Contains(out, "scopes:") || !strings.Contains(errOut, "updated") {
		t.Fatalf("update --scopes \"\": %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, "keys", "show", secret, "--data", dir)
	if code != 0 || strings.Contains(out, "scopes:") {
		t.Fatalf("scopes not cleared: %q", out)
	}
	code, _, errOut = run(t, "keys", "update", secret, "--scopes", "amazn", "--data", dir)
	if code != 1 || !strings.Contains(errOut, `did you mean "amazon"?`) {
		t.Fatalf("update --scopes amazn: %d %q", code, errOut)
	}
	code, out, errOut = run(t, "keys", "update", secret, "--data", dir)
	if code != 1 || !strings.Contains(errOut, "patch: no setting to change") {
		t.Fatalf("update without flags: %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, "keys", "update", secret, "--scopes", "kith,amazon:JP", "--data", dir)
	if code != 0 || !strings.Contains(out, "scopes:           kith, amazon:JP") && !strings.Contains(out, "kith, amazon:JP") {
		t.Fatalf("update --scopes kith,amazon:JP: %d %q", code, out)
	}
	if code, _, errOut = run(t, "keys", "show", "0123456789", "--data", dir); code != 1 || !strings.Contains(errOut, "key not found") {
		t.Fatalf("show unknown: %d %q", code, errOut)
	}
}

// TestKeysNeedData: without --data, keys refuses to invent an empty
// ./data.
func TestKeysNeedData(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, errOut := run(t, "keys", "list")
	if code != 1 || !strings.Contains(errOut, `no data directory "data" here`) {
		t.Fatalf("keys list without data: %d %q", code, errOut)
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Fatalf("./data was created: %v", err)
	}
}

func TestKeysDataFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STELLARFEED_DATA", dir)
	if code, _, errOut := run(t, "keys", "create"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "stellarfeed.db")); err != nil {
		t.Fatalf("STELLARFEED_DATA not used: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "monitors.yaml")
	os.WriteFile(bad, []byte("targets:\n  - site: amazon\n    region: US\n    sku: B0CHX1W1XY\n"), 0o600)
	code, _, errOut := run(t, "config", "check", bad)
	if code != 1 || !strings.Contains(errOut, "monitors.yaml:3:13: targets[0].region: \"US\" is not one of USA") {
		t.Fatalf("config check bad: %d %q", code, errOut)
	}
	code, out, errOut := run(t, "config", "check", "../../docs/example-config.yaml")
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("example config: %d %q %q", code, out, errOut)
	}
}

// TestRunDemo is `make run` in-process: the demo prints a URL and a curl
// command that work, the keys command goes through the running server, and
// an interrupt stops everything cleanly.
func TestRunDemo(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(ctx, []string{"run", "--data", dir, "--ws-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--log-level", "warn"}, &out, &errOut)
	}()
	var wsURL, token, api string
	urlRE := regexp.MustCompile(`ws://[0-9.:]+/\?key=sfk_[0-9A-Za-z]+`)
	curlRE := regexp.MustCompile(`curl -i -X POST (http://[0-9.:]+)/api/pings \\\s+-H 'Authorization: Bearer (sfi_[0-9A-Za-z]+)'`)
	// The dashboard line is printed last.
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		s := out.String()
		wsURL = urlRE.FindString(s)
		if m := curlRE.FindStringSubmatch(s); m != nil {
			api, token = m[1], m[2]
		}
		if wsURL == "" || token == "" || !strings.Contains(s, "admin.token\n") {
			return fmt.Errorf("demo output lacks the URL, the curl command or the dashboard:\n%s\n%s", s, errOut.String())
		}
		return nil
	})
	// ... and where the dashboard is, and how to log in.
	dash := regexp.MustCompile(`Dashboard: (http://[0-9.:]+/admin/)\n  log in with the admin token: cat (\S+admin\.token)`).FindStringSubmatch(out.String())
	if dash == nil || dash[2] != filepath.Join(dir, "admin.token") {
		t.Fatalf("demo output lacks the dashboard:\n%s", out.String())
	}
	if resp, err := http.Get(dash[1] + "login"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard login page: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A watcher receives a ping pushed through the printed curl command.
	got := make(chan string, 1)
	go func() {
		var wout, werr testutil.SyncBuffer
		realMain(ctx, []string{"watch", "--raw", "-n", "1", wsURL}, &wout, &werr)
		got <- wout.String() + werr.String()
	}()
	ping := `{"site":"walmart","sku":"123","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`
	received := postUntilWatched(t, got, api+"/api/pings", token, ping, http.StatusAccepted)
	if !strings.Contains(received, ping) {
		t.Fatalf("watcher got %q", received)
	}

	// While the server holds the database, keys go through its admin API.
	code, list, errList := run(t, "keys", "list", "--data", dir)
	if code != 0 || !strings.Contains(list, "demo subscriber") {
		t.Fatalf("keys list while running: %d %q %q", code, list, errList)
	}
	// ... and a secret names a key there as it does offline.
	demoSecret := wsURL[strings.Index(wsURL, "key=")+4:]
	code, shown, errShow := run(t, "keys", "show", demoSecret, "--data", dir)
	if code != 0 || !strings.Contains(shown, "demo subscriber") {
		t.Fatalf("keys show SECRET while running: %d %q %q", code, shown, errShow)
	}
	code, shown, errShow = run(t, "keys", "update", demoSecret, "--scopes", "amazn", "--data", dir)
	if code != 1 || !strings.Contains(errShow, `scopes[0]: "amazn": unknown site "amazn"; did you mean "amazon"?`) {
		t.Fatalf("keys update --scopes amazn while running: %d %q %q", code, shown, errShow)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d: %s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after interrupt")
	}
}

func TestFormatPing(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	line := formatPing(at, []byte(`{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productPrice":"199.99"}}`))
	if line != `03:04:05.000  amazon    USA  sku=B09MQ5L5N9  offer=OID  price=199.99  "Amazon Test"` {
		t.Fatalf("formatPing = %q", line)
	}
	if l := formatPing(at, []byte(`{"site":"amazon"}`)); !strings.Contains(l, "INVALID") {
		t.Fatalf("invalid ping not flagged: %q", l)
	}
	if l := formatPing(at, []byte(`nope`)); !strings.Contains(l, "NOT A PING") {
		t.Fatalf("garbage not flagged: %q", l)
	}
	if r := redactKey("ws://h/?key=secret&site=x"); r != "ws://h/?key=…&site=x" {
		t.Fatalf("redactKey = %q", r)
	}
}

func TestSim(t *testing.T) {
	if code, _, errOut := run(t, "sim", "--rate-captcha", "1.5"); code != 1 || !strings.Contains(errOut, "faults") {
		t.Fatalf("bad fault rate: %d %q", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--flip-every", "0"}, &out, &errOut)
	}()
	addrRE := regexp.MustCompile(`simulator on (http://[0-9.:]+)`)
	var base string
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		m := addrRE.FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("no address printed: %q %q", out.String(), errOut.String())
		}
		base = m[1]
		return nil
	})
	resp, err := http.Get(base + "/_sim/products")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("catalog: %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("sim exited %d: %s", code, errOut.String())
	}
}

// TestRunConfigHotReload: editing the config reschedules targets without a
// restart; a broken edit keeps the running config and logs the exact error.
func TestRunConfigHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "monitors.yaml")
	write := func(body string) {
		t.Helper()
		// Editors save by rename: do the same.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	target := func(handle string) string {
		return "server: {data: " + filepath.Join(dir, "data") + ", ws: '127.0.0.1:0', api: '127.0.0.1:0'}\n" +
			"baseURLs: {shopify: 'http://127.0.0.1:1'}\n" +
			"targets:\n  - {site: shopify, store: 'https://shop.example.com', handle: " + handle + ", interval: 1s}\n"
	}
	write(target("red-rain-coat"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- realMain(ctx, []string{"run", "--config", path}, &out, &errOut) }()
	waitLog := func(want string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
			if !strings.Contains(errOut.String(), want) {
				return fmt.Errorf("log lacks %q:\n%s", want, errOut.String())
			}
			return nil
		})
	}
	waitLog("monitor engine running")
	time.Sleep(100 * time.Millisecond) // let the watcher start

	write(target("blue-rain-coat"))
	waitLog(`msg="config reloaded"`)

	write("targets:\n  - {site: amazon, region: US, sku: B0CHX1W1XY}\n")
	waitLog(`config not reloaded; the previous one keeps running`)
	waitLog(`targets[0].region: \"US\" is not one of USA`)

	// A good edit after the broken one is the marker: by the time it is
	// applied, the broken one has been reported as often as it ever will.
	write(target("green-rain-coat"))
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := strings.Count(errOut.String(), `msg="config reloaded"`); n < 2 {
			return fmt.Errorf("config reloaded %d times, want 2:\n%s", n, errOut.String())
		}
		return nil
	})
	if n := strings.Count(errOut.String(), "config not reloaded"); n != 1 {
		t.Errorf("the broken edit was logged %d times, want once:\n%s", n, errOut.String())
	}

	// A key that needs a restart is named at reload; dedupe applies live.
	write(strings.Replace(target("green-rain-coat"), "server: {", "engine: {dedupe: {cooldown: 1m}}\nserver: {logLevel: debug, ", 1))
	waitLog(`msg="config: these changes take effect after a restart"`)
	waitLog(`keys=server.logLevel`)
	if o := out.String(); !strings.Contains(o, "ws://127.0.0.1:") || !strings.Contains(o, "/?key=") || !strings.Contains(o, "keys create") {
		t.Errorf("run --config printed no Stellar URL or key hint on stdout:\n%s", o)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d:\n%s", code, errOut.String())
	}
}

func TestHealthcheck(t *testing.T) {
	var notReady atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if notReady.Load() {
			http.Error(w, "not ready: starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if code, out, errOut := run(t, "healthcheck", "--api-addr", addr); code != 0 || out != "ok\n" {
		t.Fatalf("ready: %d %q %q", code, out, errOut)
	}
	notReady.Store(true)
	if code, _, errOut := run(t, "healthcheck", "--api-addr", addr); code != 1 || !strings.Contains(errOut, "answered 503: not ready: starting") {
		t.Fatalf("not ready: %d %q", code, errOut)
	}
	srv.Close()
	if code, _, errOut := run(t, "healthcheck", "--api-addr", addr, "--timeout", "1s"); code != 1 || !strings.Contains(errOut, "not healthy") {
		t.Fatalf("down: %d %q", code, errOut)
	}
	for in, want := range map[string]string{":8081": "http://127.0.0.1:8081/readyz", "[::]:9": "http://127.0.0.1:9/readyz", "10.0.0.5:8081": "http://10.0.0.5:8081/readyz", "https://x/readyz": "https://x/readyz"} {
		if got := readyURL(in); got != want {
			t.Errorf("readyURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// admin-token prints the token the server made on its first start, the
// one the key store accepts as an admin token.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "admin-token", "--data", dir); code != 1 || !strings.Contains(errOut, "start the server once") {
		t.Fatalf("before any start: exit %d, %q", code, errOut)
	}
	n, err := node.Start(context.Background(), node.Config{DataDir: dir, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	code, out, errOut := run(t, "admin-token", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := n.Keys().Check(strings.TrimSpace(out), keys.KindAdmin, time.Now()); err != nil {
		t.Fatalf("printed %q, which is not the admin token: %v", out, err)
	}
}
