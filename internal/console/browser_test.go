package console_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/console"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/node"
)

var screenshots = flag.Bool("screenshots", false, "write a screenshot of each console page to docs/console/")

// chromium finds a Chromium or Chrome binary; the browser test needs one.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary on PATH (Debian: apt-get install -y chromium): the console's browser test cannot run")
	return ""
}

// TestBrowser drives the console in headless Chromium as an operator
// would: a wrong token is refused, the right one logs in, a key is
// created, a real WebSocket client connects with it and appears live on
// the overview, a ping is counted, and revoking the key in the Keys page
// drops the client.
func TestBrowser(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, node.Config{DataDir: dir, Console: console.Config{Interval: 100 * time.Millisecond}})
	token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ingest, _, err := n.Keys().Create(keys.Options{Kind: keys.KindIngest, Label: "browser test ingest"})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	bctx, run, value, poll := b.ctx, b.run, b.value, b.poll
	base := n.ConsoleURL()

	// A wrong token: a clear message, still on the login page.
	run("wrong token",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "sfa_wrong"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	msg := value("error text", chromedp.Text(chromedp.ID("error")))
	if !strings.Contains(msg, "not a valid admin token") || !strings.Contains(msg, "admin.token") {
		t.Fatalf("wrong token message: %q", msg)
	}
	shot(t, bctx, "login")

	run("log in",
		chromedp.SetValue(chromedp.ID("token"), strings.TrimSpace(string(token))),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("conns-total")),
	)

	// Create a key; its secret and Stellar URL are shown once.
	run("create key",
		chromedp.Navigate(base+"keys"),
		chromedp.WaitVisible(chromedp.ID("label")),
		chromedp.SendKeys(chromedp.ID("label"), "browser bot"),
		chromedp.SendKeys(chromedp.ID("maxConns"), "2"),
		chromedp.SendKeys(chromedp.ID("scopes"), "amazon"),
		chromedp.Click(chromedp.ID("create-key")),
		chromedp.WaitVisible(chromedp.ID("stellar-url")),
	)
	stellarURL := value("Stellar URL", chromedp.Value(chromedp.ID("stellar-url")))
	shot(t, bctx, "keys-created")
	secret, ok := strings.CutPrefix(stellarURL, "ws://"+n.WSAddr().String()+"/?key=")
	if !ok || !keys.IsSecret(secret) {
		t.Fatalf("Stellar URL %q: want ws://%s/?key=SECRET", stellarURL, n.WSAddr())
	}
	info, err := n.Keys().Find(secret)
	if err != nil || info.Label != "browser bot" || info.MaxConns != 2 || len(info.Scopes) != 1 {
		t.Fatalf("created key: %+v, %v", info, err)
	}

	// A real client connects with it and shows up live on the overview.
	conn, _, _, err := ws.Dial(bctx, stellarURL)
	if err != nil {
		t.Fatalf("dial %s: %v", stellarURL, err)
	}
	defer conn.Close()
	run("see the client",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("by-key")),
		poll(fmt.Sprintf(`document.querySelector("#by-key").textContent.includes(%q) && document.querySelector("#conns-stellar").textContent == "1"`, info.ID)),
	)

	// A ping goes out to it and is counted.
	if code, body := postPing(t, n.APIAddr(), ingest); code != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", code, body)
	}
	if got := readText(t, conn); !strings.Contains(got, `"sku":"B09MQ5L5N9"`) {
		t.Fatalf("client got %q", got)
	}
	run("see the ping counted",
		poll(`document.querySelector("#pings-out").textContent == "1" && document.querySelector("#deliveries").textContent == "1"`),
		poll(`document.querySelector("#chart-out polyline") !== null`),
	)
	shot(t, bctx, "overview")

	// The Keys page lists the connection; revoking the key drops it.
	run("see the connection on the keys page",
		chromedp.Navigate(base+"keys"),
		poll(fmt.Sprintf(`[...document.querySelectorAll("#conns tr[data-key]")].some(r => r.dataset.key == %q)`, info.ID)),
	)
	shot(t, bctx, "keys")
	run("revoke",
		// Revoke asks for confirmation: the operator says yes.
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#keys tr[data-key="%s"] button.revoke`, info.ID))),
		chromedp.WaitVisible(chromedp.ID("notice")),
		poll(fmt.Sprintf(`document.querySelector('#keys tr[data-key="%s"] .state').textContent == "revoked"`, info.ID)),
		poll(fmt.Sprintf(`![...document.querySelectorAll("#conns tr[data-key]")].some(r => r.dataset.key == %q)`, info.ID)),
	)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = wsutil.ReadServerData(conn)
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) || ce.Code != ws.StatusPolicyViolation {
		t.Fatalf("client after revoke: %v, want close 1008", err)
	}

	run("monitors page", chromedp.Navigate(base+"monitors"), chromedp.WaitVisible(chromedp.ID("pings")),
		poll(`document.querySelector("#pings").textContent.includes("B09MQ5L5N9")`))
	shot(t, bctx, "monitors")

	// Feeds: create a webhook feed, post into its slug, see it counted.
	run("create feed",
		chromedp.Navigate(base+"feeds"),
		chromedp.WaitVisible(chromedp.ID("feed-name")),
		chromedp.SendKeys(chromedp.ID("feed-name"), "browser-hooks"),
		chromedp.SetValue(chromedp.ID("feed-kind"), "webhook"),
		chromedp.SendKeys(chromedp.ID("feed-label"), "browser test webhooks"),
		chromedp.SendKeys(chromedp.ID("feed-slugs"), "browser-in"),
		chromedp.SendKeys(chromedp.ID("feed-monthlyQuota"), "10000"),
		chromedp.Click(chromedp.ID("create-feed")),
		chromedp.WaitVisible(chromedp.ID("notice")),
		poll(`document.querySelector('#feeds tr[data-feed="browser-hooks"] .kind').textContent == "webhook"`),
	)
	if f, err := n.Keys().Feed("browser-hooks"); err != nil || !f.Webhook() || len(f.Slugs) != 1 || f.Slugs[0] != "browser-in" || f.MonthlyQuota != 10000 {
		t.Fatalf("created feed: %+v, %v", f, err)
	}
	if code, body := postWebhook(t, n.APIAddr(), "browser-in"); code != http.StatusOK {
		t.Fatalf("webhook ingest: %d %s", code, body)
	}
	run("see the event counted",
		chromedp.Reload(),
		poll(`document.querySelector('#feeds tr[data-feed="browser-hooks"] .usage .events').textContent == "1"`),
	)
	shot(t, bctx, "feeds")

	// A phone-sized window: nothing wider than the screen.
	for _, pg := range []struct{ path, wait, name string }{{"", "conns-total", "overview-phone"}, {"keys", "create-key", "keys-phone"}, {"feeds", "create-feed", "feeds-phone"}, {"monitors", "pings", "monitors-phone"}} {
		run("phone "+pg.name, chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+pg.path), chromedp.WaitVisible(chromedp.ID(pg.wait)))
		overflow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if overflow {
			t.Fatalf("/admin/%s scrolls sideways in a 390 px wide window", pg.path)
		}
		shot(t, bctx, pg.name)
	}

	// Logging out ends the session: the console asks to log in again.
	run("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Navigate(base+"keys"), chromedp.WaitVisible(chromedp.ID("token")))
	loc := value("location", chromedp.Location())
	if !strings.HasSuffix(loc, "/admin/login") {
		t.Fatalf("after logout /admin/keys lands on %s", loc)
	}
}

// startNode runs a node on loopback ports until the test ends.
func startNode(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	cfg.WSAddr, cfg.APIAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return n
}

// browser is one headless Chromium tab and the test's ways to drive it.
type browser struct {
	ctx   context.Context
	run   func(what string, steps ...chromedp.Action[chromedp.Void])
	value func(what string, a chromedp.Action[string]) string
	poll  func(expr string) chromedp.Action[chromedp.Void]
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// Start the browser on bctx itself: a browser started under a step's
	// timeout context would close with it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\npage:\n%s", what, err, pageText(bctx))
		}
	}
	value := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr)(ctx, tg)
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", expr, err)
			}
			return nil
		})
	}
	return &browser{ctx: bctx, run: run, value: value, poll: poll}
}

// pageText is what the page shows, for a failure message.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return loc + ": (cannot read the page: " + err.Error() + ")"
	}
	return loc + "\n" + text
}

// shot saves the page to docs/console/NAME.png when -screenshots is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; below, JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "..", "docs", "console", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func postPing(t *testing.T, api net.Addr, token string) (int, string) {
	t.Helper()
	body := `{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productPrice":"199.99"}}`
	req, _ := http.NewRequest("POST", "http://"+api.String()+"/api/pings", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postWebhook(t *testing.T, api net.Addr, slug string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+api.String()+"/api/in/"+slug, "application/json", strings.NewReader(`{"event": "user.signup", "email": "test@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readText(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		data, op, err := wsutil.ReadServerData(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if op == ws.OpText {
			return string(data)
		}
	}
}
