package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

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
		// Each issue already starts with file:line:col, which editors and
		// CI annotations jump to: no command prefix in front of it.
		fmt.Fprintln(stderr, err)
		return errPrinted
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
	catalogPath := fs.String("catalog", "", "catalog JSON (the shape of GET /_sim/products); default: the demo catalog")
	var faults sim.Faults
	fs.Float64Var(&faults.Rate429, "rate-429", 0, "share of answers that are HTTP 429")
	fs.Float64Var(&faults.Rate503, "rate-503", 0, "share of answers that are Amazon's 503 automated-access page")
	fs.Float64Var(&faults.RateCaptcha, "rate-captcha", 0, "share of answers that are captcha pages")
	fs.Float64Var(&faults.RateBlocked, "rate-blocked", 0, "share of answers that are bot walls (Walmart /blocked, Shopify throttle)")
	fs.Float64Var(&faults.RateSlow, "rate-slow", 0, "share of answers delayed by --slow-delay")
	fs.DurationVar(&faults.SlowDelay, "slow-delay", 2*time.Second, "delay of slow answers")
	fs.Float64Var(&faults.RateTruncated, "rate-truncated", 0, "share of answers cut short")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	catalog := sim.DemoCatalog()
	if *catalogPath != "" {
		data, err := os.ReadFile(*catalogPath)
		if err != nil {
			return err
		}
		if catalog, err = sim.ParseCatalog(data); err != nil {
			return fmt.Errorf("%s: %w", *catalogPath, err)
		}
	}
	cfg := sim.Config{Catalog: catalog, Seed: *seed, FlipEvery: *flip, NewOfferOnRestock: true, Faults: faults,
		Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := sim.New(cfg)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulator on http://%s\n  catalog: GET /_sim/products   stock: POST /_sim/products/{site}/{region}/{sku}/stock {\"inStock\":true}\n  faults: GET|POST /_sim/faults   Amazon DE page: /www.amazon.de/dp/{ASIN}\n", ln.Addr())
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
