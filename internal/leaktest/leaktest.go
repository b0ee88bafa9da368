// Package leaktest lists the background goroutines that our libraries
// start and never stop, so that every package's goleak check ignores
// exactly those and still catches ours.
package leaktest

import "go.uber.org/goleak"

// Options returns the goleak options for the libraries' own goroutines.
func Options() []goleak.Option {
	return []goleak.Option{
		// ants starts a default pool at package init; ours are released.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// fasthttp: process-wide compression workers, DNS cache cleaner and
		// Date-header updater; per-client idle-connection cleaners and the
		// server's worker cleaner exit by themselves within their sleep
		// (≤ 10 s) and offer no way to stop them sooner.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
}
