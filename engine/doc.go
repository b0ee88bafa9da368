// Package engine runs the monitors: it schedules one check per target per
// interval, fetches through rotating proxies (engine/fetch, which looks
// like Chrome to retailers), dedupes what the checks see
// into restock and sold-out events, and hands the events to outputs (the
// Stellar hub through HubOutput, Discord).
//
// # Scheduling
//
// Modelled on Prometheus' scrape manager: each target has a loop (a
// goroutine and a timer; thousands cost a few MiB, and the runtime timer
// heap already does what a timer wheel would) whose first tick waits a
// deterministic offset, hash(target ID) XOR Options.Seed mod interval,
// pinned to the wall clock: checks spread evenly and a restarted loop or
// process keeps its phase. ApplyTargets is a diff by Target.ID: new loops
// start, vanished ones stop (in parallel, awaited), unchanged ones run on,
// changed ones (same ID, new interval/group/tags) restart; bursts coalesce
// to one apply per ReloadInterval. Each tick submits the check to a bounded
// ants pool; a tick that finds the target's previous check still running
// is skipped and counted. Per-site concurrency and per-site and per-proxy
// rate limits apply. Blocked or Error doubles the target's delay (up to
// MaxBackoff × interval), a good check halves it back; a Blocked check
// benches its proxy for ProxyCooldown and drops its cookies.
//
// # Dedupe
//
// State is kept per product (Stellar site, region, sku) as each target's
// last view of its in-stock offer ids. A Restock fires once when a product
// goes from no offer in stock to one (with the monitor's preferred offer),
// and for each new offer of a product already in stock (PingOnNewOffer),
// never within Cooldown of the same offer's last ping. A SoldOut fires when
// the last in-stock view empties. Blocked and Error observations never
// change state. A target's first successful check only records
// (FirstRunSuppression): adding targets or starting on an empty state file
// does not burst; products that appear later in an already-checked
// catalog (Shopify keywords) do ping. A product whose last known state is
// out of stock pings its restock regardless (whoever saw it so, however
// many blocked checks lie between); a brand-new target blocked at start
// pings its first success only with PingAfterBlockedStart. An offer seen
// in some view within Cooldown is not a new offer (a rotating buy box).
// The state lives in a StateStore (NewBoltState), so a restart re-pings
// nothing. SetRules and SetDedupe apply a config reload.
//
// # Status
//
// Status lists every running target: last check, outcome and the
// monitor's reason, since when (and how many checks) that outcome holds,
// the proxy used, the delay after backoff and the last restock. Blocked
// checks are summarised at info level per site and proxy every
// BlockReportInterval, with a warning when a site's blocked share reaches
// BlockedShareWarn: a captcha storm never looks like silence.
//
// # Metrics (VictoriaMetrics, on Options.Metrics)
//
//	stellarfeed_checks_total{site,outcome}        re-checks count as checks
//	stellarfeed_check_duration_seconds{site}      histogram
//	stellarfeed_check_skipped_total{site}         ticks skipped (check still running)
//	stellarfeed_pings_total{site}                 valid restock pings emitted
//	stellarfeed_pings_invalid_total{site}         restocks dropped by stellar.Rules
//	stellarfeed_sold_out_total{site}, stellarfeed_rechecks_total{site}
//	stellarfeed_check_panics_total{site}, stellarfeed_requests_total{site}
//	stellarfeed_proxy_requests_total{proxy}, stellarfeed_proxy_errors_total{proxy}
//	stellarfeed_proxy_benched_total{proxy}        proxy is host:port or "direct"
//	stellarfeed_targets, stellarfeed_checks_inflight, stellarfeed_target_reloads_total
//	stellarfeed_state_save_errors_total
//	stellarfeed_proxy_checks_total{site,proxy,outcome}
//	stellarfeed_site_blocked_ratio{site}          blocked share of the last report window
//	stellarfeed_target_outcome{site,target}       -1 none, 0 error, 1 blocked, 2 out, 3 in, 4 unknown layout
//	stellarfeed_target_outcome_streak{site,target}, stellarfeed_target_delay_seconds{site,target}
//	stellarfeed_target_last_check_timestamp_seconds{site,target}
//
// The site label is the monitor name ("amazon", "walmart", "shopify").
//
// # Usage from cmd/
//
//	db, err := bolt.Open(filepath.Join(dataDir, "state.db"), 0o600, &bolt.Options{Timeout: time.Second})
//	store, err := engine.NewBoltState(db)
//	eng, err := engine.New(engine.Options{Proxies: proxies, Metrics: set, Logger: log},
//		monitors.New, store, engine.HubOutput{Publisher: hub}, discordOut)
//	err = eng.ApplyTargets(targets) // at start and on every config reload
//	err = eng.Run(ctx)              // returns nil once ctx ends and checks finished
//	db.Close()
package engine
