package config

import (
	"slices"
	"strings"
	"testing"
)

func TestRestartNeeded(t *testing.T) {
	base := "server: {ws: ':8080'}\nengine:\n  workers: 8\n  dedupe: {cooldown: 1m}\nstellar:\n  sites: {walmart: wm}\n" +
		"targets:\n  - {site: amazon, region: DE, sku: B0CHX1W1XY}\n"
	parse := func(src string) *Config {
		t.Helper()
		c, err := testLoader.Parse("m.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := parse(base)
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unchanged", base, nil},
		{"live sections only",
			"server: {ws: ':8080'}\nengine:\n  workers: 8\n  interval: 2s\n  dedupe: {cooldown: 5m, recheck: true}\nstellar:\n  sites: {walmart: other}\n" +
				"baseURLs: {amazon: 'http://127.0.0.1:9'}\ntargets:\n  - {site: amazon, region: UK, sku: B0CHX1W1XY}\n", nil},
		{"restart keys",
			"server: {ws: ':9090', logLevel: debug}\nengine:\n  workers: 9\n  proxies: [203.0.113.1:3128]\n  dedupe: {cooldown: 1m}\nstellar:\n  sites: {walmart: wm}\n" +
				"amazon:\n  sellerIds: {PL: [A2R2221NX79QZP]}\ntargets:\n  - {site: amazon, region: DE, sku: B0CHX1W1XY}\n",
			[]string{"server.ws", "server.logLevel", "engine.workers", "engine.proxies", "amazon.sellerIds"}},
	} {
		if got := RestartNeeded(old, parse(tc.src)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: RestartNeeded = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestExampleMarksRestartKeys: every engine key in the example config says
// whether a reload applies it, and says what RestartNeeded does.
func TestExampleMarksRestartKeys(t *testing.T) {
	lines := strings.Split(string(readFile(t, "../../docs/example-config.yaml")), "\n")
	in := false
	seen := 0
	for i, l := range lines {
		switch {
		case l == "engine:":
			in = true
			continue
		case in && l != "" && !strings.HasPrefix(l, " "):
			in = false
		}
		if !in || !strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "   ") || strings.HasPrefix(strings.TrimSpace(l), "#") || strings.HasPrefix(strings.TrimSpace(l), "-") {
			continue
		}
		key, _, _ := strings.Cut(strings.TrimSpace(l), ":")
		block := ""
		for j := i - 1; j >= 0 && strings.HasPrefix(lines[j], "  #"); j-- {
			block = lines[j] + block
		}
		want := "(restart)"
		if liveKeys["engine."+key] {
			want = "(live)"
		}
		if !strings.Contains(block, want) {
			t.Errorf("engine.%s: its comment does not say %s", key, want)
		}
		seen++
	}
	if seen < 10 {
		t.Fatalf("found only %d engine keys: the example's layout changed", seen)
	}
}
