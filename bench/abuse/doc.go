// Package abuse attacks a running stellarfeed the way an attacker or a bad
// network would, and says per check whether the server held: bad keys in
// every position of the handshake, garbage and truncated handshakes,
// slowloris, oversized headers, WebSocket frame abuse, slow consumers,
// reconnect storms, half-open sockets and ingest API abuse.
//
// Every check runs under a canary: a well-behaved WebSocket client that
// connects before the check, while the suite posts pings through the ingest
// API every few milliseconds. After the check the canary must have
// received every ping the API answered with a 2xx, in the order they were
// accepted. A check passes only if its own criterion holds and the canary
// saw no loss, no reordering and no disconnect.
//
// The suite is a black box: it knows the server only by its WebSocket and
// API addresses, a subscriber key, an ingest token and (for a few checks)
// an admin token, and it reads the server's health from /metrics
// (process_open_fds, process_resident_memory_bytes, go_goroutines,
// stellarfeed_connections). Attack traffic comes from 127.0.0.2–127.0.0.9;
// the canary and the probes measuring what a new customer sees come from
// 127.0.0.1. Counts and durations are bounded by a Scale: Full for
// `make abuse`, Reduced for the test that runs in `make test`.
//
// Usage:
//
//	rep := abuse.Run(ctx, abuse.Options{Target: t, Scale: abuse.Full, Out: os.Stdout})
//	if !rep.Passed() { os.Exit(1) }
package abuse
