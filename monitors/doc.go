// Package monitors defines what a site monitor is and keeps the registry of
// them by name. Each site lives in its own package (monitors/amazon,
// monitors/walmart, monitors/shopify) that registers itself in init;
// monitors/all imports every built-in, and only cmd/ imports monitors/all.
//
// A monitor builds its request(s), hands them to the engine's Fetcher (which
// owns proxies, rate limits, timeouts and retries), and turns the bytes that
// come back into an Observation with pure parsing functions:
//
//	m, err := monitors.New("amazon")
//	obs := m.Check(ctx, &target, fetcher)
//	switch obs.Outcome { case monitors.InStock: ... }
//
// Blocked and Error outcomes are never "out of stock": the engine's dedupe
// only fires on a real out-of-stock → in-stock transition.
//
// Each monitor owns its targets' rules, the way a Caddy module validates
// its own config: ValidateTarget (TargetValidator) returns a *TargetError
// naming each offending field as data (FieldError{Path: "sku", ...}), and
// Validate adds the rules every site shares. Regions (Regioner) and the
// shape of its pings (PingShaper) let config check region keys and
// Stellar's rules without knowing the site. Adding a site means one
// package and its Register call.
package monitors
