package api

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// scrape GETs /metrics and returns the value of every sample by its full
// name (with labels).
func (e *sseEnv) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := e.hc.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)
	for line := range strings.SplitSeq(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad exposition line %q", line)
		}
		if _, dup := out[m[1]]; dup {
			t.Fatalf("sample %s twice", m[1])
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		out[m[1]] = v
	}
	return out
}

func TestMetricsComplete(t *testing.T) {
	e := newSSEEnv(t, Config{}, sse.Config{Heartbeat: 20 * time.Millisecond})
	revoked, rk := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber})
	if _, err := e.st.Revoke(rk.ID); err != nil {
		t.Fatal(err)
	}
	before := e.scrape(t)
	for _, name := range []string{
		"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds",
		`stellarfeed_connections{endpoint="sse"}`,
		"stellarfeed_sse_events_published_total", "stellarfeed_sse_events_delivered_total",
		"stellarfeed_sse_slow_consumer_disconnects_total", "stellarfeed_sse_streams_total",
		`stellarfeed_key_rejections_total{kind="subscriber",reason="revoked"}`,
		`stellarfeed_key_rejections_total{kind="subscriber",reason="max_conns"}`,
		`stellarfeed_key_rejections_total{kind="ingest",reason="quota"}`,
		`stellarfeed_key_rejections_total{kind="none",reason="unknown"}`,
		`stellarfeed_ingest_requests_total{code="402"}`,
		`stellarfeed_webhook_requests_total{code="202"}`,
	} {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if before[`stellarfeed_connections{endpoint="sse"}`] != 0 || before["go_goroutines"] < 1 || before["process_resident_memory_bytes"] <= 0 {
		t.Fatalf("odd values: %v", before)
	}

	// Traffic: two refused handshakes, two streams, three pings.
	for _, q := range []string{"?key=" + revoked, "?key=sfk_" + strings.Repeat("0", 33)} {
		if _, status, _ := e.open(t, q); status != 401 {
			t.Fatalf("%s: %d", q, status)
		}
	}
	c1, _, _ := e.open(t, "?key="+e.sub)
	c2, _, _ := e.open(t, "?key="+e.sub+"&site=walmart")
	e.waitSubscribers(t, 2)
	e.hub.Publish(ping("amazon", "USA", 1))
	e.hub.Publish(ping("walmart", "", 2))
	e.hub.Publish(ping("amazon", "JP", 3))
	c1.ids(t, 3)
	c2.ids(t, 1)
	var after map[string]float64
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		after = e.scrape(t)
		if after["stellarfeed_sse_events_delivered_total"] != 4 {
			return fmt.Errorf("delivered %v", after["stellarfeed_sse_events_delivered_total"])
		}
		return nil
	})
	want := map[string]float64{
		`stellarfeed_connections{endpoint="sse"}`:                              2,
		"stellarfeed_sse_streams_total":                                        2,
		"stellarfeed_sse_rejected_total":                                       2,
		"stellarfeed_sse_events_published_total":                               3,
		`stellarfeed_key_rejections_total{kind="subscriber",reason="revoked"}`: before[`stellarfeed_key_rejections_total{kind="subscriber",reason="revoked"}`] + 1,
		`stellarfeed_key_rejections_total{kind="none",reason="unknown"}`:       before[`stellarfeed_key_rejections_total{kind="none",reason="unknown"}`] + 1,
	}
	for name, v := range want {
		if after[name] != v {
			t.Errorf("%s = %v, want %v", name, after[name], v)
		}
	}
	c1.close()
	c2.close()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if v := e.scrape(t)[`stellarfeed_connections{endpoint="sse"}`]; v != 0 {
			return fmt.Errorf("sse connections %v", v)
		}
		return nil
	})
}

func TestNoProcessMetrics(t *testing.T) {
	e := newEnv(t, Config{NoProcessMetrics: true})
	_, body, _ := e.do(t, "GET", "/metrics", nil)
	if strings.Contains(body, "go_goroutines") || !strings.Contains(body, "stellarfeed_ingest_requests_total") {
		t.Fatalf("metrics:\n%s", body)
	}
}
