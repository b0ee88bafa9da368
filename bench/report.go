package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// Report is everything one bench invocation measured.
type Report struct {
	StartedAt  time.Time    `json:"started_at"`
	DurationMS float64      `json:"duration_ms"`
	CPUs       int          `json:"cpus"`
	GoVersion  string       `json:"go_version"`
	Pings      int          `json:"pings_per_regime"`
	PingSize   int          `json:"ping_size"`
	Regimes    []string     `json:"regimes"`
	Runs       []*RunResult `json:"runs"`
	Skipped    []string     `json:"skipped"`
}

// LatencyStats are microseconds.
type LatencyStats struct {
	P50 int64 `json:"p50"`
	P90 int64 `json:"p90"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// PassStats are the floor's sender-side write-pass times, microseconds.
type PassStats struct {
	P50 int64 `json:"p50"`
	Max int64 `json:"max"`
}

// PingResult is one ping across all clients.
type PingResult struct {
	Seq        int   `json:"seq"`
	Deliveries int64 `json:"deliveries"`
	Duplicates int64 `json:"duplicates"`
	P50US      int64 `json:"p50_us"`
	P99US      int64 `json:"p99_us"`
	MaxUS      int64 `json:"max_us"` // the last client to receive it
}

// RunResult is one (server, N, regime) run. Latencies are from the send
// time stamped in the ping (just before its POST) to the client's read.
type RunResult struct {
	Server     string  `json:"server"`
	Kind       string  `json:"kind"`
	Regime     string  `json:"regime"`
	N          int     `json:"n"`
	Pings      int     `json:"pings"`
	PingBytes  int     `json:"ping_bytes"`
	IntervalMS float64 `json:"interval_ms"`
	DurationMS float64 `json:"duration_ms"`

	ClientProcs   int     `json:"client_procs"`
	Connected     int     `json:"connected"`
	ConnectFailed int     `json:"connect_failed"`
	ConnectError  string  `json:"connect_error"`
	ConnectMS     float64 `json:"connect_ms"`
	ConnectPerSec float64 `json:"connect_per_sec"`

	Published      int    `json:"published"` // POSTs answered 2xx
	PublishErrors  int    `json:"publish_errors"`
	PublishError   string `json:"publish_error"`
	Expected       int64  `json:"expected"`
	Delivered      int64  `json:"delivered"`
	Lost           int64  `json:"lost"`
	Duplicates     int64  `json:"duplicates"`
	Unparsed       uint64 `json:"unparsed"`
	ClosedByServer int64  `json:"closed_by_server"`
	ProtocolErrors int64  `json:"protocol_errors"`

	Latency    LatencyStats `json:"latency_us"`     // every delivery
	LastClient LatencyStats `json:"last_client_us"` // per ping, its slowest client: the pass time
	PerPing    []PingResult `json:"per_ping"`

	ServerRSSIdleBytes      int64   `json:"server_rss_idle_bytes"`
	ServerRSSConnectedBytes int64   `json:"server_rss_connected_bytes"`
	MemPerConnBytes         float64 `json:"mem_per_conn_bytes"`
	ServerCPUMS             float64 `json:"server_cpu_ms"`
	ServerCPUPerDeliveryUS  float64 `json:"server_cpu_per_delivery_us"`
	ClientCPUMS             float64 `json:"client_cpu_ms"`
	ClientCPUPerDeliveryUS  float64 `json:"client_cpu_per_delivery_us"`
	ServerGoroutines        *int    `json:"server_goroutines,omitempty"`

	// Machine-wide kernel counters over the regime (see netCounters):
	// loopback packets dropped before TCP, and TCP retransmissions.
	SoftnetDrops int64 `json:"softnet_drops"`
	TCPRetrans   int64 `json:"tcp_retrans_segs"`

	// Cluster runs (ours-cluster): the nodes, the connections on each, and
	// the bus's share of the latency. RSS, CPU and goroutines above are
	// sums over the nodes (the embedded NATS server runs in the first).
	Nodes     int         `json:"nodes,omitempty"`
	NodeConns []int       `json:"node_conns,omitempty"`
	Bus       *BusLatency `json:"bus_latency_us,omitempty"`

	FloorPassUS *PassStats `json:"floor_pass_us,omitempty"` // floor runs only
	FloorRatio  *float64   `json:"floor_ratio,omitempty"`   // steady: last-client p50 ÷ the floor's

	Errors []string `json:"errors"`

	pubUnknown []int // pings whose POST failed without an answer
}

// OK reports whether the run delivered everything exactly once.
func (r *RunResult) OK() bool {
	return len(r.Errors) == 0 && r.Lost == 0 && r.Duplicates == 0 && r.Expected > 0 && r.PublishErrors == 0
}

// fill computes the delivery figures from merged per-ping counts.
func (r *RunResult) fill(pings []pingCount) {
	var all Hist
	var maxes []int64
	r.PerPing = make([]PingResult, len(pings))
	for i := range pings {
		p := &pings[i]
		all.Merge(&p.Hist)
		r.Delivered += int64(p.Deliveries)
		r.Duplicates += int64(p.Duplicates)
		r.PerPing[i] = PingResult{Seq: i, Deliveries: int64(p.Deliveries), Duplicates: int64(p.Duplicates),
			P50US: p.Hist.Quantile(0.5), P99US: p.Hist.Quantile(0.99), MaxUS: p.Hist.MaxUS}
		if p.Deliveries > 0 {
			maxes = append(maxes, p.Hist.MaxUS)
		}
	}
	sent := r.Published
	for _, i := range r.pubUnknown {
		if i >= 0 && i < len(pings) && pings[i].Deliveries > 0 {
			sent++ // the server took it although the POST did not finish
		}
	}
	r.Expected = int64(r.Connected) * int64(sent)
	r.Lost = max(r.Expected-r.Delivered, 0)
	r.Latency = LatencyStats{P50: all.Quantile(0.5), P90: all.Quantile(0.9), P99: all.Quantile(0.99), Max: all.MaxUS}
	if len(maxes) > 0 {
		slices.Sort(maxes)
		q := func(f float64) int64 { return maxes[min(int(f*float64(len(maxes))), len(maxes)-1)] }
		r.LastClient = LatencyStats{P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: maxes[len(maxes)-1]}
	}
	if r.Delivered > 0 {
		r.ServerCPUPerDeliveryUS = r.ServerCPUMS * 1000 / float64(r.Delivered)
		r.ClientCPUPerDeliveryUS = r.ClientCPUMS * 1000 / float64(r.Delivered)
	}
	if r.Errors == nil {
		r.Errors = []string{}
	}
}

// WriteDir writes one JSON per run under runs/, report.json, summary.md
// and the self-contained report.html.
func (rep *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "runs"), 0o755); err != nil {
		return fmt.Errorf("out dir: %w", err)
	}
	for _, r := range rep.Runs {
		name := fmt.Sprintf("%s-n%d-%s.json", safeName(r.Server), r.N, r.Regime)
		if err := writeJSON(filepath.Join(dir, "runs", name), r); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, "report.json"), rep); err != nil {
		return err
	}
	var md strings.Builder
	rep.WriteMarkdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("summary.md: %w", err)
	}
	html, err := rep.HTML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), html, 0o644); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func ms(us int64) string { return fmt.Sprintf("%.1f", float64(us)/1000) }

// tableRows is the summary shared by the terminal table and summary.md.
func (rep *Report) tableRows() (head []string, rows [][]string) {
	head = []string{"server", "regime", "N", "conn", "conn/s", "delivered", "lost", "dup",
		"p50 ms", "p99 ms", "max ms", "last p50 ms", "last max ms", "srv µs/deliv", "cli µs/deliv", "KB/conn", "goroutines", "×floor", "drops/retx", "errors"}
	for _, r := range rep.Runs {
		g, ratio := "-", "-"
		if r.ServerGoroutines != nil {
			g = fmt.Sprint(*r.ServerGoroutines)
		}
		if r.FloorRatio != nil {
			ratio = fmt.Sprintf("%.2f", *r.FloorRatio)
		}
		errs := fmt.Sprint(len(r.Errors))
		if len(r.Errors) > 0 {
			errs += ": " + textutil.Truncate(r.Errors[0], 60)
		}
		rows = append(rows, []string{r.Server, r.Regime, fmt.Sprint(r.N), fmt.Sprint(r.Connected),
			fmt.Sprintf("%.0f", r.ConnectPerSec), fmt.Sprintf("%d/%d", r.Delivered, r.Expected),
			fmt.Sprint(r.Lost), fmt.Sprint(r.Duplicates),
			ms(r.Latency.P50), ms(r.Latency.P99), ms(r.Latency.Max), ms(r.LastClient.P50), ms(r.LastClient.Max),
			fmt.Sprintf("%.1f", r.ServerCPUPerDeliveryUS), fmt.Sprintf("%.1f", r.ClientCPUPerDeliveryUS),
			fmt.Sprintf("%.1f", r.MemPerConnBytes/1024), g, ratio, fmt.Sprintf("%d/%d", r.SoftnetDrops, r.TCPRetrans), errs})
	}
	return head, rows
}

// clusterRows is the cluster table: last-client latency across nodes next
// to the bus's share of it. Empty when no run is a cluster run.
func (rep *Report) clusterRows() (head []string, rows [][]string) {
	head = []string{"server", "regime", "N", "nodes", "conns per node", "last p50 ms", "last p99 ms", "last max ms",
		"bus mean ms", "bus p50 ms", "bus p99 ms", "bus max ms", "bus p50 ÷ last p50", "srv µs/deliv", "KB/conn"}
	for _, r := range rep.Runs {
		if r.Nodes == 0 {
			continue
		}
		per := make([]string, len(r.NodeConns))
		for i, c := range r.NodeConns {
			per[i] = fmt.Sprint(c)
		}
		bm, b50, b99, bmax, share := "-", "-", "-", "-", "-"
		if r.Bus != nil {
			bm, b50, b99, bmax = ms(r.Bus.Mean), ms(r.Bus.P50), ms(r.Bus.P99), ms(r.Bus.Max)
			if r.LastClient.P50 > 0 {
				share = fmt.Sprintf("%.1f%%", 100*float64(r.Bus.P50)/float64(r.LastClient.P50))
			}
		}
		rows = append(rows, []string{r.Server, r.Regime, fmt.Sprint(r.N), fmt.Sprint(r.Nodes), strings.Join(per, "+"),
			ms(r.LastClient.P50), ms(r.LastClient.P99), ms(r.LastClient.Max), bm, b50, b99, bmax, share,
			fmt.Sprintf("%.1f", r.ServerCPUPerDeliveryUS), fmt.Sprintf("%.1f", r.MemPerConnBytes/1024)})
	}
	return head, rows
}

// WriteTable prints the terminal summary.
func (rep *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head, rows := rep.tableRows()
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	_ = tw.Flush()
	if head, rows := rep.clusterRows(); len(rows) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
		}
		_ = tw.Flush()
	}
	for _, s := range rep.Skipped {
		fmt.Fprintln(w, "skipped:", s)
	}
}

// WriteMarkdown writes summary.md.
func (rep *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# stellarfeed bench, %s\n\n", rep.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "%d CPUs, %s, M = %d pings of %d bytes per regime; clients on the same machine.\n\n",
		rep.CPUs, rep.GoVersion, rep.Pings, rep.PingSize)
	head, rows := rep.tableRows()
	writeMarkdownTable(w, head, rows)
	if head, rows := rep.clusterRows(); len(rows) > 0 {
		fmt.Fprint(w, `
## Cluster runs

Clients spread evenly over the nodes, pings published through the first
node's ingest API. "bus" is publish on that node to the local hub on each
node (stellarfeed_bus_latency_seconds, merged over the nodes, bucket upper
bounds; mean exact); RSS and CPU are sums over the nodes, NATS included.

`)
		writeMarkdownTable(w, head, rows)
	}
	fmt.Fprint(w, `
Latency runs from the send time stamped in the ping (just before its POST) to
the client's read. "last" is, per ping, its slowest client (the pass time);
"×floor" divides a steady last-client p50 by the raw-write floor's at the
same N. KB/conn is the server's RSS growth from idle to N idle connections.
CPU per delivery divides the regime's CPU (utime+stime, 10 ms ticks) by the
deliveries; the server's includes its ingest work. "drops/retx" are
machine-wide kernel counters over the regime: loopback packets dropped
before TCP (softnet_stat, over net.core.netdev_max_backlog) and TCP
retransmissions; each drop costs its socket an RTO (>= 200 ms, doubling).
`)
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "\nSkipped: %s\n", s)
	}
}

func writeMarkdownTable(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(head)))
	for _, r := range rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "/")
		}
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}
