// Package console is the operator's web dashboard, served under /admin/ on
// the API port: log in with the admin token, watch the node live, manage
// keys and their connections, and see the monitors at work.
//
// It is plain server-rendered html/template with one small embedded script
// (charts are inline SVG drawn by it; no build step, no CDN: the machines
// have no internet). Pages:
//
//   - Overview: connections by endpoint and by key, pings in and out per
//     minute, deliveries per second, fan-out latency p50/p99, slow-consumer
//     closes, ingest answers by status, monitor checks by outcome. The page
//     updates itself from GET /admin/events, an event stream of the
//     console's own that sends one sample per Config.Interval.
//   - Keys: create (the secret is shown once, with the Stellar URL), list
//     with usage, rotate, disable, enable, revoke; live connections (WS and
//     SSE) with kick. A new key joins the feed picked in the form.
//   - Feeds: every feed with its settings, this month's counters and its
//     number of keys; create, edit, delete.
//   - Monitors: every target's last check, outcome, backoff; blocked rate
//     per site and error rate per proxy; recent pings as they go out.
//
// The console reads the node's metrics as Prometheus text (what Grafana
// sees), keys through api.KeyService and feeds through api.FeedService
// (what the CLI and the admin API use, so the rules live once), connections
// through api.ConnAdmin and targets through the small Monitors interface:
// it owns nothing but its sessions.
//
// Security: a session is a random 256-bit cookie (HttpOnly,
// SameSite=Strict, Path=/admin, Secure behind TLS) that expires after
// Config.SessionTTL; the admin token it was opened with is checked again on
// every request, so revoking the token ends its sessions. Every form
// carries the session's CSRF token, and POSTs from another Origin are
// refused. Failed logins are limited per client address. Pages are served
// with a strict Content-Security-Policy (no inline script).
package console
