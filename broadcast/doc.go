// Package broadcast is stellarfeed's WebSocket ping broadcaster: it pushes
// every Stellar ping, encoded once into one frame (stellar.Message), to
// tens of thousands of authenticated bots.
//
// Bots connect with ws://host:port/?key=KEY (or /stellar?key=KEY) and may
// narrow what they receive with &site=amazon,walmart and &region=USA,CA.
// The key is checked by an Authenticator before the upgrade: a refused
// key gets an HTTP error (401, or the status of an *AuthError such as 403
// or 429) and is never upgraded.
//
// Design, and why:
//
//   - Accept and upgrade run off the poller: one accept loop (Serve), one
//     short-lived goroutine per handshake, bounded by a semaphore and a
//     deadline, using gobwas/ws's zero-copy Upgrader.
//   - After the upgrade the raw fd is read once (SyscallConn().Control: no
//     dup, the socket stays non-blocking) and registered edge-triggered
//     with easygo's low-level epoll. An idle connection costs its fd, its
//     epoll entry and a small struct: no goroutine, no buffer.
//   - Connections are sharded over Config.Workers shards; a pass of a
//     shard runs on an ants pool and writes to each matching connection
//     every frame pending for it with a single writev, from a per-shard
//     iovec array: under a burst, one syscall per connection, not per ping,
//     and no allocation per connection or per ping.
//   - Publish appends to a bounded log and marks shards dirty; it never
//     blocks and never copies a frame. A connection that cannot keep up
//     keeps a reference and an offset into its pending frames; past
//     MaxBacklogBytes or WriteTimeout it is closed as a slow consumer.
//   - Client frames are read by a few reader goroutines; pings, closes and
//     {"type":"ping"} are answered through the connection's control queue,
//     written by the shard between data frames.
//
// TLS is not offered: encryption is per connection and would defeat the
// shared frame. Terminate TLS at a load balancer or proxy.
//
// Usage:
//
//	srv, err := broadcast.New(broadcast.Config{}, keys) // keys implements Authenticator
//	if err != nil { ... }
//	ln, _ := net.Listen("tcp", ":8080")
//	go srv.Serve(ln)                 // returns ErrServerClosed after Shutdown
//	srv.Publish(msg)                 // msg from stellar.NewMessage
//	srv.DisconnectKey(id, ws.StatusPolicyViolation, "key revoked")
//	srv.Shutdown(ctx)                // close 1001 to everyone, free everything
package broadcast
