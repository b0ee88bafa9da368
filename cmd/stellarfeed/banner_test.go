package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tc := range []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"ldflags win", "v1.4.0", vcs("0123456789abcdef0123", "false"), true, "v1.4.0"},
		{"go install module version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.2"}}, true, "v1.3.2"},
		{"plain go build in a checkout", "dev", vcs("0123456789abcdef0123", "false"), true, "dev-0123456789ab"},
		{"uncommitted changes", "dev", vcs("0123456789abcdef0123", "true"), true, "dev-0123456789ab-dirty"},
		{"no vcs stamp", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
		{"no build info", "dev", nil, false, "dev"},
	} {
		if got := versionFrom(tc.ldflags, tc.bi, tc.ok); got != tc.want {
			t.Errorf("%s: versionFrom = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestConfigCheckLines: every line config check prints for a broken file
// starts with file:line:col, the first one included.
func TestConfigCheckLines(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "monitors.yaml")
	os.WriteFile(bad, []byte("targets:\n  - site: amazon\n    region: US\n    sku: B0CHX1W1XY\n  - site: walmart\n    region: USA\n    sku: abc\n"), 0o600)
	code, _, errOut := run(t, "config", "check", bad)
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if code != 1 || len(lines) != 2 {
		t.Fatalf("config check: exit %d, want 1 and two issues:\n%s", code, errOut)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("line does not start with the file name: %q", l)
		}
	}
}
