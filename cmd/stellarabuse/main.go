// Command stellarabuse attacks a running stellarfeed with the checks of
// package bench/abuse and prints PASS/FAIL per check; it exits 1 if any
// check failed. With -start it starts the server itself (`make abuse`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stellarfeed/stellarfeed/bench/abuse"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		o     abuse.Options
		t     = &o.Target
		start = flag.String("start", "", "start this stellarfeed binary (`run` on the demo, fresh data directory, free ports) and attack it")
		data  = flag.String("data", "", "read the admin token, demo key and ingest token from this server data directory")
		scale = flag.String("scale", "full", "full or reduced")
		only  = flag.String("only", "", "comma-separated checks or families to run (default all)")
		skip  = flag.String("skip", "", "comma-separated checks or families to leave out")
		list  = flag.Bool("list", false, "list the checks and exit")
	)
	flag.StringVar(&t.WS, "ws", env("STELLARABUSE_WS", ""), "WebSocket address host:port (env STELLARABUSE_WS)")
	flag.StringVar(&t.API, "api", env("STELLARABUSE_API", ""), "API address host:port (env STELLARABUSE_API)")
	flag.StringVar(&t.Key, "key", env("STELLARABUSE_KEY", ""), "subscriber key (env STELLARABUSE_KEY)")
	flag.StringVar(&t.IngestToken, "ingest-token", env("STELLARABUSE_INGEST_TOKEN", ""), "ingest token (env STELLARABUSE_INGEST_TOKEN)")
	flag.StringVar(&t.AdminToken, "admin-token", env("STELLARABUSE_ADMIN_TOKEN", ""), "admin token (env STELLARABUSE_ADMIN_TOKEN)")
	flag.DurationVar(&o.HandshakeTimeout, "handshake-timeout", 5*time.Second, "the server's handshake timeout")
	flag.DurationVar(&o.WriteTimeout, "write-timeout", 10*time.Second, "the server's slow-consumer write timeout")
	flag.Parse()
	if *list {
		for _, c := range abuse.Checks() {
			fmt.Printf("%-24s %s\n", c.Name, c.About)
		}
		return 0
	}
	switch *scale {
	case "full":
		o.Scale = abuse.Full
	case "reduced":
		o.Scale = abuse.Reduced
	default:
		fmt.Fprintf(os.Stderr, "stellarabuse: -scale %q: want full or reduced\n", *scale)
		return 2
	}
	o.Only, o.Skip = split(*only), split(*skip)
	o.Out = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *start != "" {
		dir, err := os.MkdirTemp("", "stellarabuse-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "stellarabuse:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		logPath := filepath.Join("bench-out", "abuse-server.log")
		_ = os.MkdirAll(filepath.Dir(logPath), 0o755)
		logf, err := os.Create(logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stellarabuse:", err)
			return 2
		}
		defer logf.Close()
		p, err := abuse.StartServer(ctx, *start, filepath.Join(dir, "data"), logf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stellarabuse:", err)
			return 2
		}
		defer func() {
			if err := p.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stellarabuse: stopping the server:", err)
			}
		}()
		*t = p.Target
		fmt.Printf("started %s (pid %d): ws %s, api %s; server log %s\n\n", *start, p.PID, t.WS, t.API, logPath)
	} else if *data != "" {
		if err := t.FillFromDataDir(*data); err != nil {
			fmt.Fprintln(os.Stderr, "stellarabuse:", err)
			return 2
		}
	}
	rep, err := abuse.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stellarabuse:", err)
		return 2
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
