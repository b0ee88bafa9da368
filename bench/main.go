package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Main is `stellarbench ARGS`. In a client process (ClientEnv set) it
// runs the client instead, whatever args say, which is how the harness
// re-executes the binary. It returns the process exit code: 0 when every
// run delivered everything exactly once, 1 when a run lost or duplicated
// pings or failed, 2 for bad flags.
func Main(ctx context.Context, args []string) int {
	if IsClientProcess() {
		return ClientMain()
	}
	o, err := ParseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if o.OursBin == "" && (containsStr(o.Servers, KindOurs) || containsStr(o.Servers, KindCluster)) {
		o.OursBin = siblingServer()
	}
	rep, err := Run(ctx, o)
	if rep != nil {
		rep.WriteTable(os.Stdout)
		if o.OutDir != "" {
			fmt.Fprintf(os.Stdout, "\nreport: %s/report.html, %s/summary.md, %s/runs/\n", o.OutDir, o.OutDir, o.OutDir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	for _, r := range rep.Runs {
		if !r.OK() {
			return 1
		}
	}
	return 0
}

// siblingServer returns the stellarfeed binary installed beside this one
// (make bench builds bin/stellarbench next to bin/stellarfeed), or "" so
// that Run builds it from ./cmd/stellarfeed.
func siblingServer() string {
	exe, err := os.Executable()
	if err != nil || strings.HasSuffix(exe, ".test") {
		return ""
	}
	bin := filepath.Join(filepath.Dir(exe), "stellarfeed")
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return ""
	}
	return bin
}

// ParseFlags turns bench command-line flags into Options.
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	matrix := fs.Bool("matrix", false, "N ∈ {1000,5000,10000,19000} × both regimes × {ours,gorilla,nbio} + floor, M=50 (make bench)")
	servers := fs.String("servers", "", "servers to start: ours,ours-cluster,gorilla,nbio or none (default gorilla,nbio; with -matrix ours,gorilla,nbio)")
	fs.IntVar(&o.Nodes, "nodes", 0, "processes of an ours-cluster server, sharing an embedded NATS (default 3)")
	var targets []string
	fs.Func("target", "running server: ws://host:port/,ingest=http://host:port,key=K,token=T[,pid=PID][,name=N] (repeatable)", func(s string) error {
		targets = append(targets, s)
		return nil
	})
	conns := fs.String("n", "", "connection counts, comma-separated (default 1000)")
	fs.IntVar(&o.Pings, "m", 0, "pings per regime (default 50)")
	fs.IntVar(&o.PingSize, "size", 0, "ping JSON size in bytes (default 600)")
	regimes := fs.String("regimes", "", "steady,overload (default both)")
	fs.DurationVar(&o.SteadyInterval, "steady-interval", 0, "steady publish interval (default 200ms + 40µs×N)")
	fs.DurationVar(&o.OverloadInterval, "overload-interval", 0, "overload publish interval (default 20ms)")
	floor := fs.Bool("floor", true, "measure the raw-write floor at each N")
	fs.IntVar(&o.ConnsPerProc, "conns-per-proc", 0, "connections per client process (default 5000)")
	fs.IntVar(&o.ReadersPerProc, "readers", 0, "epoll readers per client process (default 2)")
	srcIPs := fs.String("src-ips", "", "client source addresses (default 127.0.0.2-127.0.0.9)")
	fs.IntVar(&o.Keys, "keys", 0, "subscriber keys per server (default 1)")
	fs.StringVar(&o.OursBin, "ours-bin", "", "stellarfeed binary (default: stellarfeed beside this binary, or built from ./cmd/stellarfeed)")
	fs.StringVar(&o.BaselinesDir, "baselines", "", "bench/baselines module directory (default: found from the working directory)")
	fs.StringVar(&o.OutDir, "out", "", "write runs/*.json, report.json, summary.md and report.html here")
	fs.StringVar(&o.WorkDir, "work", "", "keep logs, data and binaries here (default: a temp dir, removed)")
	fs.DurationVar(&o.QuietTimeout, "quiet", 0, "end a drain after this long without a delivery (default 5s)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 0, "longest drain after the last publish (default 60s)")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", 0, "longest connect phase (default 2m)")
	quiet := fs.Bool("no-progress", false, "no progress bars")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *matrix {
		m := MatrixOptions()
		o.Servers, o.Conns, o.Regimes = m.Servers, m.Conns, m.Regimes
		if o.Pings == 0 {
			o.Pings = m.Pings
		}
	}
	o.Floor = *floor
	if *servers == "none" {
		o.Servers = []string{}
	} else if *servers != "" {
		o.Servers = splitList(*servers)
	}
	if *conns != "" {
		o.Conns = nil
		for _, s := range splitList(*conns) {
			n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
			if err != nil || n <= 0 {
				return o, fmt.Errorf("-n: %q is not a positive connection count", s)
			}
			o.Conns = append(o.Conns, n)
		}
	}
	if *regimes != "" {
		o.Regimes = splitList(*regimes)
	}
	if *srcIPs != "" {
		o.SrcIPs = splitList(*srcIPs)
	}
	for _, t := range targets {
		pt, err := ParseTarget(t)
		if err != nil {
			return o, fmt.Errorf("-target: %w", err)
		}
		o.Targets = append(o.Targets, pt)
	}
	if len(o.Targets) > 0 && *servers == "" && !*matrix {
		o.Servers = nil // only the targets
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containsStr(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}
