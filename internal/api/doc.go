// Package api is stellarfeed's HTTP API on valyala/fasthttp: ping ingest
// for providers (by header or by webhook URL), Server-Sent Events for
// subscribers, health and metrics endpoints, and key administration.
// docs/api.md documents every endpoint, body and status.
//
//	POST   /api/pings                    Bearer <ingest token>; one ping or an array
//	POST   /api/in/{slug}                a feed's slug (alone, or with a token of the feed): any JSON
//	                                     into a webhook feed, pings into a stellar feed; or a token's slug
//	GET    /api/events/stream?key=K      SSE stream of the key's feed (?token=, Bearer or session
//	                                     cookie too); &site= &region= filters, Last-Event-ID resume; CORS
//	POST   /api/login  /api/logout       session cookie for a subscriber key (browsers, /ws)
//	GET    /healthz  /readyz  /metrics
//	POST   /api/admin/keys               Bearer <admin token>; create, 201 with the secret once
//	GET    /api/admin/keys               list
//	GET    /api/admin/keys/{id}          key and usage
//	PATCH  /api/admin/keys/{id}          change settings
//	POST   /api/admin/keys/{id}/rotate   new secret, 201 with it once
//	DELETE /api/admin/keys/{id}          revoke
//	POST   /api/admin/keys/lookup        {"secret":...}: the key a secret names (secrets never go in URLs)
//	GET    /api/admin/connections        live WebSocket and SSE clients; DELETE .../{id} kicks one
//	GET    /admin/...                    the operator's console (Deps.Console, internal/console)
//	*      /api/admin/feeds[/{name}]     feeds: list, create, read, change, delete
//	GET    /api/admin/usage?month=       usage per feed and key (JSON or &format=csv)
//
// Every key belongs to a feed (keys.Feed); each request acts within it:
// ingest publishes messages stamped with the feed's routing number, a
// stream carries its key's feed only, and an admin token with a feed sees
// and changes that feed's keys only. Webhook bodies become one
// {"type":"webhook",...} event each (package webhook), encoded once.
//
// Every accepted ping is validated with stellar.Rules and encoded once into
// a wire.Message, which goes to the Publisher (the broadcaster or a bus).
// In a batch the valid pings are published and the invalid ones reported by
// index with their field errors; nothing invalid is ever published.
// An ingest token's rate limit answers 429 with Retry-After; its spent
// monthly quota answers 402 with the quota, the count and the reset time.
//
// The event stream admits subscriber keys exactly as the WebSocket
// endpoint does (keys.Store.Authenticate, Connected, Disconnected, so
// MaxConns, IP limits and usage apply to both) and applies the same
// filters and scopes. The streams themselves are internal/sse's.
//
// Usage sketch (cmd/):
//
//	events := sse.New(sse.Config{Logger: log})
//	pub := api.Publishers{hub, events}  // every ping to WebSocket and SSE
//	a := api.New(api.Config{}, api.Deps{
//		Publisher: pub, Keys: store, SSE: events, Metrics: set, Logger: log,
//		Ready: func() error { return engine.Ready() },
//	})
//	ln, _ := net.Listen("tcp", ":8080")
//	go a.Serve(ln)          // returns api.ErrServerClosed after Shutdown
//	defer a.Shutdown(ctx)   // also closes events, ending every stream
//
// Key administration is KeyService: StoreService serves it from the key
// store (the admin endpoints above, the CLI without a server, the
// console), Client from a running server's admin API (the CLI when that
// server holds the bbolt file lock). Both name a key by ID or secret and
// answer with the same errors.
//
// Behind reverse proxies, Config.TrustedProxies (Proxies) decides whose
// X-Forwarded-For / X-Real-IP is believed: the client address of SSE
// admission, usage and the connection list.
package api
