package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stellarfeed/stellarfeed/bench"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/sim"
)

func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "Usage: stellarfeed config check [--print] FILE")
		return errUsage
	}
	fs := newFlagSet("config check", "FILE", stderr)
	print := fs.Bool("print", false, "print the effective config, defaults filled in")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	c, err := config.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok, %d targets\n", fs.Arg(0), len(c.Targets()))
	if *print {
		b, err := c.YAML()
		if err != nil {
			return err
		}
		stdout.Write(b)
	}
	return nil
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "", stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address (env STELLARFEED_SIM_ADDR)")
	flip := fs.Duration("flip-every", 3*time.Second, "flip one product's stock this often (0 = only on request)")
	seed := fs.Uint64("seed", 1, "seed for offer ids, flips and faults")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s := sim.New(sim.Config{Catalog: sim.DemoCatalog(), Seed: *seed, FlipEvery: *flip, NewOfferOnRestock: true})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulator on http://%s (catalog: /_sim/products)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	go s.Run(ctx)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func cmdBench(ctx context.Context, args []string, _, _ io.Writer) error {
	if code := bench.Main(ctx, args); code != 0 {
		return fmt.Errorf("bench failed (exit %d)", code)
	}
	return nil
}
