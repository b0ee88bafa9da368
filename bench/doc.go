// Package bench is the `stellarbench` command (cmd/stellarbench): it measures a WebSocket ping
// broadcaster end to end, the way Stellar subscribers see it, against two
// baselines and the physical floor.
//
// For each server (ours, started from the stellarfeed binary; a gorilla
// goroutine-per-connection hub; an nbio epoll hub; or any running
// --target) and each connection count N, the harness:
//
//   - starts the server with fresh keys and waits for GET /healthz;
//   - re-executes its own binary as client processes (ClientEnv set, at
//     most ConnsPerProc connections each, fds being 20,000 per process),
//     which open N WebSockets from 127.0.0.2–127.0.0.9 with raw sockets and
//     a hand-written upgrade, then read every socket through epoll with a
//     zero-allocation frame scanner;
//   - reads the server's RSS before and after (memory per idle connection);
//   - publishes M pings through POST /api/pings in two regimes, steady (one
//     ping at a time) and overload (every 20 ms), each ping stamped with
//     "bench-<seq>-<unixnano>" in offerId;
//   - collects per-ping deliveries, duplicates and latency histograms from
//     the clients, and server and client CPU per delivery;
//   - runs the floor: the same frame written with raw write(2) calls to N
//     sockets held by the harness, sharded over the cores.
//
// Cluster mode (-servers ours-cluster -nodes 3, KindCluster) starts the
// stellarfeed binary as several `run --cluster embedded` processes on one
// embedded NATS (the first node hosts it); the key and the ingest token
// are created in the first node's data directory, and a handshake with
// each key on every node proves JetStream KV replicated them before any
// client connects. Client processes are spread evenly over the nodes,
// pings are published through the first node's ingest API only, RSS and
// CPU are summed over the nodes, and each regime also reports the bus's
// share of the latency (RunResult.Bus, the growth of every node's
// stellarfeed_bus_latency_seconds histogram over the regime).
//
// Usage from a command:
//
//	func main() {
//		if bench.IsClientProcess() { // first thing: client processes
//			os.Exit(bench.ClientMain())
//		}
//		os.Exit(bench.Main(ctx, os.Args[1:]))
//	}
//
// or programmatically: rep, err := bench.Run(ctx, bench.Options{...}).
//
// The baselines live in their own module (bench/baselines) so that nbio's
// old x/net and x/crypto minimums never reach the main module; Run builds
// them with `go build` into its work directory.
package bench
