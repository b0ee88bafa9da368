// Command stellarsoak runs stellarfeed under a churning load for a long
// time and fails on memory, fd or goroutine growth or on any lost ping
// (see package bench/soak). `make soak DURATION=1h` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stellarfeed/stellarfeed/bench/soak"
)

func main() {
	var o soak.Options
	flag.StringVar(&o.Bin, "bin", "bin/stellarfeed", "the stellarfeed binary to soak")
	flag.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&o.Every, "every", 10*time.Second, "sampling period")
	flag.StringVar(&o.Out, "out", "bench-out/soak", "output directory (CSV, PNG, server log, data directory)")
	flag.IntVar(&o.Churners, "churners", 60, "concurrent churning clients")
	flag.DurationVar(&o.PingEvery, "ping-every", 200*time.Millisecond, "canary ping period")
	flag.DurationVar(&o.RotateEvery, "rotate-every", 30*time.Second, "key rotation round period")
	flag.IntVar(&o.Prefill, "prefill", 16384, "pings published before the first sample, to fill the broadcaster's message log (negative: none)")
	flag.StringVar(&o.SimFaults, "sim-faults", soak.DefaultSimFaults, "JSON posted to the simulator's /_sim/faults")
	flag.Parse()
	o.Stdout = os.Stdout
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("soaking %s for %s; outputs in %s\n", o.Bin, o.Duration, o.Out)
	res, err := soak.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stellarsoak:", err)
		os.Exit(2)
	}
	sum := res.Summary()
	fmt.Print("\n", sum)
	_ = os.WriteFile(filepath.Join(o.Out, "summary.txt"), []byte(sum), 0o644)
	fmt.Printf("chart %s, samples %s\n", filepath.Join(o.Out, "soak.png"), filepath.Join(o.Out, "soak.csv"))
	if !res.Passed() {
		os.Exit(1)
	}
}
