package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse: Parse never panics, returns exactly one of config and error,
// every issue has a position and a message, and a parsed config prints to
// YAML that parses back.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "../../docs/example-config.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "a", "- x", "targets: *x", "x-a: &a [*a]\ntargets: *a\n",
		"targets:\n  - {site: amazon, region: US, sku: B0CHX1W1XY}\n",
		"groups: [{name: g, site: shopify, store: 'https://s.example.com', targets: [{keywords: [a b, [c]]}]}]",
		"engine: {proxies: ['h:1:u:p', 'http://h:2'], sites: {amazon: {rate: 0.5}}}",
		"x-a: &a {<<: *a}\nserver: *a\n",
		"server: !!str {ws: 1}\nbroadcast: {maxBacklog: 1.5MiB}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := testLoader.Parse("f.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg %v err %v", cfg != nil, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if len(ce.Issues) == 0 || len(ce.Issues) > maxIssues {
				t.Fatalf("%d issues", len(ce.Issues))
			}
			for _, is := range ce.Issues {
				if is.File == "" || is.Line < 1 || is.Col < 1 || is.Message == "" {
					t.Fatalf("bad issue %+v", is)
				}
			}
			return
		}
		for _, s := range cfg.Targets() {
			if s.Site == "" || s.Interval < minInterval || s.Path == "" {
				t.Fatalf("bad target %+v", s)
			}
		}
		if cfg.Engine.ProxyFile != "" {
			return // the file's proxies are inlined: not a byte-level round trip
		}
		out, err := cfg.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := testLoader.Parse("f2.yaml", out); err != nil {
			t.Fatalf("printed config does not parse: %v\n%s", err, out)
		}
	})
}
