// Command stellarbench runs the bench suite on its own, the same as
// `stellarfeed bench` does (use it until, or instead of, the subcommand):
//
//	go build -o bin/stellarbench ./bench/cmd/stellarbench
//	bin/stellarbench -n 1000,5000 -out bench-out
//	bin/stellarbench -matrix -ours-bin bin/stellarfeed -out bench-out
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
