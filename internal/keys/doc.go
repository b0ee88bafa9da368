// Package keys is stellarfeed's credential store: subscriber keys for the
// WebSocket endpoint, ingest tokens for POST /api/pings and admin tokens
// for /api/admin, kept in buckets "keys" and "key_usage" of a bbolt DB the
// caller opened (the same file holds other components' buckets).
//
// A secret is 24 bytes from crypto/rand printed in base62 behind a kind
// prefix (sfk_ subscriber, sfi_ ingest, sfa_ admin). It is shown once, at
// Create or Rotate; the store keeps only its SHA-256. A slow password hash
// (bcrypt, argon2) protects low-entropy human passwords against guessing;
// a 192-bit random secret cannot be guessed whatever the hash speed, and a
// fast hash keeps authentication in the WebSocket handshake at ~1 µs.
//
// Authentication never touches the disk: every key is held in an
// immutable in-memory snapshot (hash → record) rebuilt on each change and
// swapped atomically, so Check is lock-free and allocation-free.
// Usage (live connections, connected time, deliveries, last seen,
// rejections per reason, ingest counts) is counted in memory and written
// to "key_usage" by Flush or RunFlusher.
//
// # Feeds
//
// Every key belongs to a feed (bucket "feeds", usage in "feed_usage"):
// an isolated stream of events, of kind stellar (Stellar pings) or
// webhook (any JSON). Key.Feed "" is the default feed, which Open creates
// in a store written before feeds existed, so old keys and URLs keep
// working unchanged. Authenticate returns the feed's routing number
// (Identity.Feed, local to this store; the default feed is 0) for the
// broadcaster's integer compare. Feeds carry their slugs, token
// requirement, body limit, monthly quota and per-feed and per-IP ingest
// rates (AllowFeed, ChargeFeed), and monthly counters; UsageReport and
// WriteUsageCSV export a month per feed and key. ApplyFeed and
// SubscribeFeeds let a cluster replicate feeds by name.
//
// # Sessions
//
// Login trades a subscriber key for a session secret (sfs_) kept in
// memory only, for a browser's cookie; AuthenticateSession admits it like
// the key, and any change that cuts the key's access ends its sessions.
//
// Usage sketch:
//
//	db, _ := bolt.Open(path, 0o600, nil)
//	st, err := keys.Open(db, keys.WithLogger(log))
//	secret, k, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "acme", MaxConns: 5})
//	go st.RunFlusher(ctx, time.Minute)
//	st.Subscribe(func(c keys.Change) {
//		if c.CutsAccess() {
//			hub.DisconnectKey(c.Key.ID, ws.StatusPolicyViolation, "key "+c.Op.String())
//		}
//	})
//	id, err := st.Authenticate(secret, remoteIP) // from the broadcaster's handshake
//	st.Connected(id.KeyID, remoteIP)             // once upgraded
//	st.Disconnected(id.KeyID, remoteIP, dur, delivered)
package keys
