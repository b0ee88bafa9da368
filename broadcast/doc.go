// Package broadcast is stellarfeed's WebSocket ping broadcaster: it pushes
// every Stellar ping, encoded once into one frame (stellar.Message), to
// tens of thousands of authenticated bots and dashboards.
//
// # Endpoints
//
// One listener serves two endpoints; both take the key as ?key=KEY (or
// ?token=KEY).
//
// Stellar (/ and /stellar): pings only. Bots may narrow what they receive
// with &site=amazon,walmart and &region=USA,CA. The key is checked by an
// Authenticator before the upgrade: a refused key gets an HTTP error (401,
// or the status of an *AuthError such as 403 or 429) and is never
// upgraded. Each ping arrives as its own text frame holding the ping JSON,
// byte for byte what stellar.NewMessage encoded. The server answers
// WebSocket pings and {"type":"pong"} to {"type":"ping"}; anything else a
// bot sends is ignored.
//
// Realtime (/ws): a JSON lifecycle for dashboards and custom clients.
//
//   - Refusals are close frames, because a browser's WebSocket API cannot
//     read an HTTP body: a missing, unknown or refused key, or a bad query,
//     completes the upgrade and closes with 1008 and the reason; a full
//     server closes with 1013.
//   - On connect the server sends
//     {"type":"connected","message":"...","userId":"<Identity.KeyID>"},
//     right behind the 101 response (a gobwas ws.Dial client finds it in
//     the returned bufio.Reader).
//   - A new connection receives nothing until it subscribes (the connected
//     message says so): {"type":"subscribe","channel":"amazon:USA"} is
//     acknowledged with {"type":"subscribed","channel":"amazon:USA"}, and
//     {"type":"unsubscribe","channel":...} with {"type":"unsubscribed",...}.
//     A channel is a site name ("amazon", "walmart", "walmartca", ...),
//     "amazon:REGION" (Amazon is the only site whose pings carry a region),
//     or "*" for everything. Sites are read in lower case and regions in
//     upper case; acks echo the canonical spelling. Unsubscribing removes
//     exactly that channel ("amazon" does not remove "amazon:USA"); "*"
//     removes every subscription. Up to 64 subscriptions per connection.
//   - The key's Identity.Scopes bound what may be subscribed: a channel
//     outside them is answered with an error. "*" is always accepted and
//     means everything the key may receive. The ?site= and ?region= query
//     filters, when given, narrow /ws deliveries too.
//   - A subscription applies to every ping not yet written to the
//     connection, which can include one published a moment before it.
//   - {"type":"ping"} is answered with {"type":"pong"}. Invalid JSON, an
//     unknown type, a bad channel, a binary or fragmented message get
//     {"type":"error","message":"..."} and the connection stays open.
//     Unknown fields in client messages are ignored.
//   - Each ping arrives as {"event":"ping","data":<ping JSON>,"timestamp":
//     "2026-01-25T10:30:00.000Z"} (ISO-8601 UTC with milliseconds, the
//     Publish time; a number of unix ms with ?timestamp=unix), a webhook
//     event as {"event":"webhook","channel":…,"data":…,"timestamp":…}.
//     This envelope frame is built once per message and format, lazily, by
//     the first shard pass that has a /ws connection to write it to: no /ws
//     subscriber, no envelope (Stats.Envelopes counts them).
//   - On a webhook feed (Identity.Webhook) a channel is an event name,
//     matched exactly against the posted "event" or "type".
//   - Without ?key= (or ?token=), an Authenticator that implements
//     SessionAuthenticator admits /ws by the sf_session cookie.
//
// Every connection receives only its key's feed (Identity.Feed compared
// with stellar.Message.Feed, an integer compare). docs/api.md documents
// the protocol for clients.
//   - Replies (connected, acks, errors, pongs) go through the connection's
//     control queue, written between data frames, never inside one. A
//     client that sends faster than it reads, until 8 KiB of replies are
//     pending, is closed with 1008.
//
// DisconnectKey, Kick, key expiry, server pings and slow-consumer rules
// apply to both endpoints alike.
//
// # Connection rate per IP
//
// With Config.ConnRatePerIP set, each source IP (IPv6: each /64) has a
// token bucket of ConnBurstPerIP connections refilled at ConnRatePerIP
// per second. It is checked right after accept, before the request is
// read: over the limit, the client gets "HTTP/1.1 429 Too Many Requests"
// with "Retry-After: 1" and is closed (counted in Stats.Rejected.Rate).
// The table is pruned every second (IPs idle for a minute whose bucket is
// full again) and capped at 65,536 IPs; when full of recently seen IPs, a
// new IP passes untracked rather than being refused (MaxConns still holds).
//
// # Fan-out latency
//
// Config.OnFanout is called at the end of each shard pass that wrote a
// message, with the age of the oldest message it wrote (Publish to end of
// pass) and the frames it completed; the slowest shard's report for a
// message is its publish-to-last-byte latency. It runs on the shard's
// goroutine, possibly concurrently for several shards, and must not block;
// it allocates nothing on the broadcaster's side. Stats.LastFanout keeps
// the latest age of each shard (the largest is reported).
//
// # Design, and why
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
//     and no allocation per connection or per ping (a /ws envelope costs
//     two allocations per ping, shared by every /ws connection).
//   - Publish appends to a bounded log and marks shards dirty; it never
//     blocks and never copies a frame. A connection that cannot keep up
//     keeps a reference and an offset into its pending frames; past
//     MaxBacklogBytes or WriteTimeout it is closed as a slow consumer.
//   - Client frames are read by a few reader goroutines; pings, closes and
//     realtime requests are answered through the connection's control
//     queue, written by the shard between data frames.
//
// TLS is not offered: encryption is per connection and would defeat the
// shared frame. Terminate TLS at a load balancer or proxy.
//
// # Usage
//
//	srv, err := broadcast.New(broadcast.Config{
//		ConnRatePerIP: 2, ConnBurstPerIP: 10, // per source IP
//		OnFanout: func(age time.Duration, n int) { fanout.Update(age.Seconds()) },
//	}, keys) // keys implements Authenticator
//	if err != nil { ... }
//	ln, _ := net.Listen("tcp", ":8080")
//	go srv.Serve(ln)                 // returns ErrServerClosed after Shutdown
//	srv.Publish(msg)                 // msg from stellar.NewMessage
//	srv.DisconnectKey(id, ws.StatusPolicyViolation, "key revoked")
//	srv.Shutdown(ctx)                // close 1001 to everyone, free everything
package broadcast
