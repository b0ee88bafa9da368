package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KindCluster is ours as several `stellarfeed run --cluster embedded`
// processes: the first runs the embedded NATS server, the others join it;
// clients are spread evenly over the nodes and pings are published through
// the first node's ingest API only, so every delivery on the other nodes
// crossed the bus.
const KindCluster = "ours-cluster"

// DefaultNodes is the number of processes of an ours-cluster run.
const DefaultNodes = 3

// busLatencyMetric is internal/cluster's histogram of publish (on the
// sending node) to the local hub's Publish (on the receiving node).
const busLatencyMetric = "stellarfeed_bus_latency_seconds"

// clusterNode is one process of a cluster under test.
type clusterNode struct {
	id      string
	pid     int
	ws      *url.URL
	metrics string
	stop    func() error
}

// BusLatency is the bus's share of the latency over one regime, merged
// from every node's stellarfeed_bus_latency_seconds histogram (the
// difference between a scrape before and one after the regime).
// Microseconds; quantiles and Max are bucket upper bounds (VictoriaMetrics
// buckets are ~12% wide), Mean is exact (sum ÷ count).
type BusLatency struct {
	Count int64 `json:"count"` // pings received from the bus, summed over nodes
	Mean  int64 `json:"mean"`
	P50   int64 `json:"p50"`
	P99   int64 `json:"p99"`
	Max   int64 `json:"max"`
}

// pids lists the server processes to measure: every node of a cluster
// (the embedded NATS server runs inside the first), or the single process.
func (s *server) pids() []int {
	if len(s.nodes) > 0 {
		out := make([]int, 0, len(s.nodes))
		for _, n := range s.nodes {
			out = append(out, n.pid)
		}
		return out
	}
	if s.pid > 0 {
		return []int{s.pid}
	}
	return nil
}

// rss sums the resident memory of the server's processes.
func (s *server) rss() (int64, bool) {
	pids := s.pids()
	var sum int64
	for _, p := range pids {
		v, err := procRSS(p)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, len(pids) > 0
}

// cpu sums the CPU time (user + system) of the server's processes.
func (s *server) cpu() (time.Duration, bool) {
	pids := s.pids()
	var sum time.Duration
	for _, p := range pids {
		v, err := procCPU(p)
		if err != nil {
			return 0, false
		}
		sum += v
	}
	return sum, len(pids) > 0
}

// wsFor is the WebSocket URL client process i connects to: round robin
// over the nodes of a cluster.
func (s *server) wsFor(i int) *url.URL {
	if len(s.nodes) > 0 {
		return s.nodes[i%len(s.nodes)].ws
	}
	return s.ws
}

// metricsURLs are the /metrics endpoints of every process.
func (s *server) metricsURLs() []string {
	if len(s.nodes) > 0 {
		out := make([]string, 0, len(s.nodes))
		for _, n := range s.nodes {
			out = append(out, n.metrics)
		}
		return out
	}
	if s.metrics != "" {
		return []string{s.metrics}
	}
	return nil
}

// clientProcs is how many client processes serve n connections: at least
// one per node, the same number on each node, each with at most perProc.
func (s *server) clientProcs(n, perProc int) int {
	nodes := max(len(s.nodes), 1)
	perNode := (n + nodes - 1) / nodes
	return nodes * max((perNode+perProc-1)/perProc, 1)
}

// startCluster starts nodes `stellarfeed run --cluster embedded` processes
// on one free NATS port. Keys and the ingest token are created in the
// first node's data directory before it starts; SyncKeys puts them into
// the JetStream KV bucket and the other nodes receive them, which is
// checked by a WebSocket handshake with every key on every node before
// startCluster returns.
func startCluster(ctx context.Context, bin, workDir string, nkeys, nodes int) (srv *server, err error) {
	if nodes < 1 {
		nodes = DefaultNodes
	}
	natsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	natsListen := fmt.Sprintf("127.0.0.1:%d", natsPort)
	clusterArgs := func(id string) []string {
		return []string{"--cluster", "embedded", "--nats-listen", natsListen, "--node-id", id}
	}
	first, err := startOursWith(ctx, bin, workDir, max(nkeys, 1), true, clusterArgs("b1"))
	if err != nil {
		return nil, fmt.Errorf("cluster node b1: %w", err)
	}
	srv = first
	srv.name, srv.kind = KindCluster, KindCluster
	srv.nodes = []clusterNode{{id: "b1", pid: first.pid, ws: first.ws, metrics: first.metrics, stop: first.stop}}
	srv.stop = func() error {
		// Joined nodes first: the first one hosts NATS.
		var errs []error
		for i := len(srv.nodes) - 1; i >= 0; i-- {
			errs = append(errs, srv.nodes[i].stop())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = srv.stop()
		}
	}()

	// The other nodes start together: each only needs the NATS server.
	type started struct {
		i   int
		n   clusterNode
		err error
	}
	ch := make(chan started, nodes-1)
	for i := 1; i < nodes; i++ {
		go func(i int) {
			id := fmt.Sprintf("b%d", i+1)
			s, err := startOursWith(ctx, bin, workDir, 0, false, clusterArgs(id))
			if err != nil {
				ch <- started{i: i, err: fmt.Errorf("cluster node %s: %w", id, err)}
				return
			}
			ch <- started{i: i, n: clusterNode{id: id, pid: s.pid, ws: s.ws, metrics: s.metrics, stop: s.stop}}
		}(i)
	}
	joined := make([]clusterNode, nodes-1)
	var errs []error
	for range nodes - 1 {
		st := <-ch
		if st.err != nil {
			errs = append(errs, st.err)
			continue
		}
		joined[st.i-1] = st.n
		srv.nodes = append(srv.nodes, st.n) // so that stop covers it at once
	}
	if err := errors.Join(errs...); err != nil {
		return srv, err
	}
	srv.nodes = append(srv.nodes[:1], joined...) // b1, b2, b3… in order

	// A key created on b1 must authenticate everywhere before clients come.
	for _, n := range srv.nodes {
		for _, k := range srv.keys {
			if err := waitKey(ctx, n.ws, k, 30*time.Second); err != nil {
				return srv, fmt.Errorf("cluster node %s: key from b1 never authenticated: %w", n.id, err)
			}
		}
	}
	return srv, nil
}

// waitKey polls a WebSocket handshake with key until it is accepted.
func waitKey(ctx context.Context, ws *url.URL, key string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probeKey(ctx, ws, key)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", ws.Host, err)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// probeKey makes one WebSocket handshake with key and closes it.
func probeKey(ctx context.Context, ws *url.URL, key string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", ws.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	path := ws.Path
	if path == "" {
		path = "/"
	}
	req := "GET " + path + "?key=" + url.QueryEscape(key) + " HTTP/1.1\r\nHost: " + ws.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + wsKey +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("send upgrade: %w", err)
	}
	br := bufio.NewReader(c)
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read upgrade response: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		head = append(head, line...)
		if len(head) > 8<<10 {
			return errors.New("upgrade response header larger than 8 KiB")
		}
	}
	return checkUpgrade(bytes.TrimRight(head, "\r\n"))
}

// busHist is one scrape of a VictoriaMetrics histogram: counts per vmrange
// bucket, sum and count.
type busHist struct {
	buckets map[string]float64
	sum     float64
	count   float64
}

// parseVMHistogram reads the histogram name from Prometheus text as
// written by VictoriaMetrics/metrics: name_bucket{vmrange="a...b"} n
// (counts per range, not cumulative), name_sum, name_count.
func parseVMHistogram(b []byte, name string) (busHist, bool) {
	h := busHist{buckets: map[string]float64{}}
	found := false
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		switch {
		case f[0] == "_sum":
			h.sum, found = v, true
		case f[0] == "_count":
			h.count, found = v, true
		case strings.HasPrefix(f[0], `_bucket{vmrange="`):
			r := strings.TrimSuffix(strings.TrimPrefix(f[0], `_bucket{vmrange="`), `"}`)
			h.buckets[r] += v
			found = true
		}
	}
	return h, found
}

// sub returns h - before, bucket by bucket.
func (h busHist) sub(before busHist) busHist {
	out := busHist{buckets: map[string]float64{}, sum: h.sum - before.sum, count: h.count - before.count}
	for r, v := range h.buckets {
		if d := v - before.buckets[r]; d > 0 {
			out.buckets[r] = d
		}
	}
	return out
}

// add merges o into h.
func (h *busHist) add(o busHist) {
	if h.buckets == nil {
		h.buckets = map[string]float64{}
	}
	for r, v := range o.buckets {
		h.buckets[r] += v
	}
	h.sum += o.sum
	h.count += o.count
}

// stats turns the histogram into BusLatency; nil when it is empty.
func (h busHist) stats() *BusLatency {
	if h.count <= 0 {
		return nil
	}
	type bucket struct{ lo, hi, n float64 }
	var bs []bucket
	var total float64
	for r, n := range h.buckets {
		loS, hiS, ok := strings.Cut(r, "...")
		lo, err1 := strconv.ParseFloat(loS, 64)
		hi, err2 := strconv.ParseFloat(hiS, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		bs = append(bs, bucket{lo, hi, n})
		total += n
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	us := func(sec float64) int64 {
		if math.IsInf(sec, 0) || math.IsNaN(sec) {
			return -1
		}
		return int64(math.Round(sec * 1e6))
	}
	q := func(f float64) int64 {
		var cum float64
		for _, b := range bs {
			cum += b.n
			if cum >= f*total {
				return us(b.hi)
			}
		}
		return 0
	}
	out := &BusLatency{Count: int64(h.count), Mean: us(h.sum / h.count)}
	if len(bs) > 0 {
		out.P50, out.P99, out.Max = q(0.5), q(0.99), us(bs[len(bs)-1].hi)
	}
	return out
}

// scrapeBus reads the bus latency histogram of every node of a cluster;
// ok is false for a single process or when a node's /metrics fails. A
// node without the histogram yet (VictoriaMetrics writes nothing for an
// empty one) counts as empty.
func (s *server) scrapeBus(ctx context.Context) ([]busHist, bool) {
	if len(s.nodes) == 0 {
		return nil, false
	}
	urls := s.metricsURLs()
	out := make([]busHist, len(urls))
	var wg sync.WaitGroup
	oks := make([]bool, len(urls))
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := s.get(ctx, u)
			if err == nil {
				out[i], _ = parseVMHistogram(b, busLatencyMetric)
				oks[i] = true
			}
		}()
	}
	wg.Wait()
	return out, len(urls) > 0 && !slices.Contains(oks, false)
}

// get fetches url with a short timeout.
func (s *server) get(ctx context.Context, u string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// busDelta merges, over nodes, the histogram growth between two scrapes.
func busDelta(before, after []busHist) *BusLatency {
	var sum busHist
	for i := range min(len(before), len(after)) {
		sum.add(after[i].sub(before[i]))
	}
	return sum.stats()
}
