// Command stellarbench runs the fan-out bench suite (package bench). It is
// a program of its own so that the server binary links none of the bench
// code (plots, progress bars, client processes):
//
//	make bench                                  # builds bin/stellarfeed and bin/stellarbench
//	bin/stellarbench -n 1000,5000 -out bench-out
//	bin/stellarbench -matrix -out bench-out     # uses bin/stellarfeed beside it
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellarfeed/stellarfeed/bench"
)

func main() {
	if bench.IsClientProcess() {
		os.Exit(bench.ClientMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bench.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
