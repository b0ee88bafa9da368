// Package config reads stellarfeed's YAML configuration: servers,
// broadcaster, engine tuning, Stellar site names, origin overrides, the
// targets to watch (alone or in groups with shared defaults) and Discord
// outputs. docs/example-config.yaml documents every option.
//
// Every problem in a file is reported, not just the first, each as
// "file:line:col: path: message" so an editor can jump to it:
//
//	monitors.yaml:14:13: targets[3].region: "US" is not one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU
//
// Unknown keys are errors (a typo must not silently drop a filter). The
// package holds no site's rules: each target goes to its site's monitor
// through the registry (monitors.Validate), which names the offending
// fields as data (monitors.FieldError{Path, Msg}); config only maps those
// paths to the file:line:col they came from, a group default or the
// target's own key. Region keys ("walmart.CA") are checked against the
// monitor's Regions, and each target's ping shape (monitors.PingShaper)
// against Stellar's rules, so a config that cannot produce a valid ping
// fails here. Adding a site touches its monitor package and the registry.
//
// A running server applies targets, groups, baseURLs, stellar.sites and
// engine.dedupe on reload; RestartNeeded names every other changed key.
//
// Usage from cmd/ (which imports monitors/all, so monitors.New knows every
// site):
//
//	cfg, err := config.Load(path) // or config.Default() without a file
//	if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(2) }
//	for _, t := range cfg.Targets() { ... t.Target, t.Interval, t.Group, t.Tags ... }
//
//	// hot reload: keep the running config when the new one is broken
//	go config.Watch(ctx, path, 500*time.Millisecond, func(c *config.Config, err error) {
//		if err != nil { slog.Error("config reload", "err", err); return }
//		apply(c)
//	})
//
// The package defines plain structs and imports neither the engine nor the
// outputs: cmd/ maps Config onto their options.
package config
