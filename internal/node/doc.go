// Package node assembles one stellarfeed process: the data directory and
// its embedded store, the key store, the WebSocket broadcaster, the HTTP
// API and, when configured, the monitor engine and the built-in retailer
// simulator. cmd/stellarfeed parses flags and config into a Config and
// calls Start; tests start whole nodes the same way.
//
//	n, err := node.Start(ctx, cfg)
//	...
//	<-ctx.Done()
//	err = n.Shutdown(shutdownCtx)
//
// Shutdown order follows the data: stop producing pings (engine, ingest),
// drain the broadcaster (clients get 1001 going away), flush usage and
// close the store.
package node
