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
// Unknown keys are errors (a typo must not silently drop a filter), and
// each target is also checked by its site monitor's ValidateTarget.
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
