package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/console"
	"github.com/stellarfeed/stellarfeed/internal/node"
	_ "github.com/stellarfeed/stellarfeed/monitors/all" // the demo's monitors
)

// TestBrowserDemo watches the console of a busy node (`make run`'s demo:
// simulator, monitors, bots on both WebSocket endpoints): the charts draw,
// the monitors' targets and pings update live, every bot is listed. With
// -screenshots it photographs the pages for docs/console/:
//
//	go test ./internal/console -run Browser -screenshots
func TestBrowserDemo(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, node.Config{
		DataDir: dir, Demo: true, Sim: true, RunEngine: true,
		Console: console.Config{Interval: 500 * time.Millisecond},
	})
	// A few bots on the demo key, on both WebSocket endpoints.
	for _, path := range []string{"/", "/", "/ws"} {
		c, _, _, err := ws.Dial(context.Background(), "ws://"+n.WSAddr().String()+path+"?key="+n.Demo().Subscriber)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() { // drain, or the broadcaster closes it as a slow consumer
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	base := n.ConsoleURL()
	b.run("log in", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), strings.TrimSpace(string(token))),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("conns-total")))
	// Let the charts draw a few seconds of traffic.
	b.run("traffic", b.poll(`document.querySelector("#chart-out polyline") && document.querySelector("#chart-out polyline").points.length > 12 && document.querySelector("#pings-out").textContent != "0"`))
	shot(t, b.ctx, "demo-overview")
	b.run("monitors", chromedp.Navigate(base+"monitors"), chromedp.WaitVisible(chromedp.ID("targets")),
		b.poll(`document.querySelectorAll("#pings tr:not(.empty)").length > 2`))
	// The targets table follows the engine live: a check count moves
	// without a reload.
	before := b.value("checks", chromedp.Text(chromedp.CSS("#targets td.checks")))
	b.run("live targets", b.poll(fmt.Sprintf(`document.querySelector("#targets td.checks").textContent != %q`, before)))
	shot(t, b.ctx, "demo-monitors")
	b.run("keys", chromedp.Navigate(base+"keys"), b.poll(`document.querySelectorAll("#conns tr[data-key]").length == 3`))
	shot(t, b.ctx, "demo-keys")
}
