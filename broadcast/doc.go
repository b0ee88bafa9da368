// Package broadcast is stellarfeed's WebSocket ping broadcaster: it pushes
// every Stellar ping, encoded once into one frame (wire.Message), to
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
// byte for byte what wire.New encoded. The server answers
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
// with wire.Message.Feed, an integer compare). docs/api.md documents
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
// read (behind a trusted proxy: once its PROXY header named the client):
// over the limit, the client gets "HTTP/1.1 429 Too Many Requests"
// with "Retry-After: 1" and is closed (counted in Stats.Rejected.Rate).
// The table is pruned every second (IPs idle for a minute whose bucket is
// full again) and capped at 65,536 IPs; when full of recently seen IPs, a
// new IP passes untracked rather than being refused (MaxConns still holds).
//
// # Handshakes
//
// The upgrade request is read on the poller, the way the data path works,
// so a peer that trickles its request holds no goroutine and no worker:
//
//   - Serve accepts and detaches the socket from Go's runtime at once
//     (one fd, non-blocking), then registers it with the epoll instance.
//     Accept never waits for a peer.
//   - Each readable event reads what the socket holds (never blocking)
//     into a per-connection buffer from a pool: 1 KiB first, 9 KiB only
//     when a request (or a PROXY header) needs it; released after the
//     upgrade. An idle unfinished handshake costs a ~200-byte struct.
//   - When the head is complete (a blank line; bare LF accepted), the
//     connection goes to a small pool of workers (max(2, Workers)) that
//     run gobwas/ws's Upgrader on the buffered bytes and write the answer
//     to the still fresh, non-blocking socket. Authentication stays in
//     OnRequest: 401/403/429/503 are sent before anything is upgraded.
//     An upgraded connection moves to a shard with its first epoll event
//     intact (registration re-checks readiness).
//   - Deadlines: every unfinished handshake is in one FIFO list. All get
//     the same HandshakeTimeout, so the list is ordered by deadline and
//     by age at once; one sweeper goroutine sleeps until the head's
//     deadline (one timer for the whole table, none per connection) and
//     closes what expired (Stats.Rejected.Timeout), 128 at a time so a
//     wave of deadlines never holds the poller up. Closing is O(1).
//   - Caps: request line and headers over 8 KiB get "431 Request Header
//     Fields Too Large" as soon as the 8 KiB are in, and are closed.
//     MaxHandshakesPerIP unfinished handshakes per client IP (IPv6: /64;
//     default 256): one more is answered "429 Too Many Requests" with
//     "Retry-After: 1" at accept (Rejected.PerIP). MaxHandshakes
//     unfinished handshakes in all (default 4,096, and never more than
//     MaxConns minus the open connections, so client sockets stay within
//     MaxConns): a new connection beyond it closes the OLDEST one, not
//     itself, so a slowloris attack cannot lock newcomers out
//     (Rejected.Shed). When accept runs out of fds (EMFILE), the oldest
//     unfinished handshake is closed the same way and the accept retried
//     at once.
//   - A refusal the peer may still be sending into (431, PROXY 400, a
//     refused /ws close frame) shuts the write side and lingers: the
//     poller discards what arrives until EOF, for at most 1 s and
//     256 KiB, so close(2) does not turn into an RST that would destroy
//     the answer in flight. Lingering connections count toward
//     MaxHandshakes and are shed first.
//
// Stats.Handshakes is the number of unfinished handshakes now.
//
// # Real client IPs: the PROXY protocol
//
// Behind a TCP load balancer every peer is the balancer. With
// Config.ProxyProtocol, a connection from one of Config.TrustedProxies
// may start with a PROXY protocol header, v1 (text) or v2 (binary; TLVs
// skipped, 1 KiB at most), parsed from the handshake buffer on the
// poller. The address it names is then the client's: ConnRatePerIP and
// MaxHandshakesPerIP apply to it (checked once the header is read), and
// the Authenticator (key IP limits), the ConnObserver (usage, lastIP) and
// Conns see it. v1 UNKNOWN, v2 LOCAL (health checks), UNSPEC and UNIX
// keep the balancer's own address, as does a trusted connection that
// sends no header at all. A malformed header is refused with 400. A
// PROXY header from any other address is refused with 400 too, whether
// or not ProxyProtocol is on: no one else may choose their IP
// (Rejected.Proxy).
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
//   - Handshakes are read on the poller and upgraded by a few workers
//     (see Handshakes above): a slow peer costs a small struct and buffer,
//     never a goroutine, and never blocks accept.
//   - From accept on, the connection is a raw fd (taken once through
//     SyscallConn().Control, then detached from Go's runtime: one fd, the
//     socket stays non-blocking) registered edge-triggered with easygo's
//     low-level epoll. An idle connection costs its fd, its epoll entry
//     and a small struct: no goroutine, no buffer.
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
//		ProxyProtocol:  true, // client IPs from the load balancer's PROXY header
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//		OnFanout: func(age time.Duration, n int) { fanout.Update(age.Seconds()) },
//	}, keys) // keys implements Authenticator
//	if err != nil { ... }
//	ln, _ := net.Listen("tcp", ":8080")
//	go srv.Serve(ln)                 // returns ErrServerClosed after Shutdown
//	srv.Publish(msg)                 // msg from wire.New
//	srv.DisconnectKey(id, ws.StatusPolicyViolation, "key revoked")
//	srv.Shutdown(ctx)                // close 1001 to everyone, free everything
package broadcast
