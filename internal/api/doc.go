// Package api is stellarfeed's HTTP API on valyala/fasthttp: ping ingest
// for providers, health and metrics endpoints, and key administration.
//
//	POST   /api/pings                    Bearer <ingest token>; one ping or an array
//	GET    /healthz  /readyz  /metrics
//	POST   /api/admin/keys               Bearer <admin token>; create, 201 with the secret once
//	GET    /api/admin/keys               list
//	GET    /api/admin/keys/{id}          key and usage
//	PATCH  /api/admin/keys/{id}          change settings
//	POST   /api/admin/keys/{id}/rotate   new secret, 201 with it once
//	DELETE /api/admin/keys/{id}          revoke
//
// Every accepted ping is validated with stellar.Rules and encoded once into
// a stellar.Message, which goes to the Publisher (the broadcaster or a bus).
// In a batch the valid pings are published and the invalid ones reported by
// index with their field errors; nothing invalid is ever published.
//
// Usage sketch (cmd/):
//
//	a := api.New(api.Config{}, api.Deps{
//		Publisher: hub, Keys: store, Metrics: set, Logger: log,
//		Ready: func() error { return engine.Ready() },
//	})
//	ln, _ := net.Listen("tcp", ":8080")
//	go a.Serve(ln)          // returns api.ErrServerClosed after Shutdown
//	defer a.Shutdown(ctx)
//
// Client is a small net/http client of the admin API, for the CLI when a
// running server holds the bbolt file lock.
package api
