package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/node"
)

// errPrinted reports a failure whose message the command has already
// written to stderr in its own format (config check: one file:line:col
// issue a line); realMain exits 1 without adding a prefix.
var errPrinted = errors.New("error already printed")

// buildVersion is the version `stellarfeed version` prints: the -ldflags
// value when the Makefile set one, else what the Go toolchain stamped into
// the binary (a module version for `go install …@v1.2.3`, the VCS revision
// for a plain `go build` in a checkout), else "dev".
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return versionFrom(version, bi, ok)
}

func versionFrom(ldflags string, bi *debug.BuildInfo, ok bool) string {
	if ldflags != "" && ldflags != "dev" {
		return ldflags
	}
	if !ok || bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// printRunning tells the operator of a configured server where Stellar
// connects and how to get the key it needs: a server started from a config
// has no demo key, so without this it starts in silence.
func printRunning(w io.Writer, n *node.Node, file *config.Config, targets int, monitorsOn bool) {
	ws := dialable(n.WSAddr())
	fmt.Fprintf(w, "\nstellarfeed is running (config %s, %d targets", file.File, targets)
	if !monitorsOn {
		fmt.Fprint(w, ", monitor engine off")
	}
	fmt.Fprintf(w, `).

Stellar WebSocket URL (paste into Stellar's WebSocket settings with a subscriber key):
  ws://%[1]s/?key=YOUR_KEY

Create a subscriber key (prints the secret once):
  stellarfeed keys create --data %[2]s --label "my cook group"
`, ws, file.Server.Data)
	fmt.Fprintf(w, "\nMetrics: http://%s/metrics   Monitor status: http://%[1]s/api/admin/targets (admin token)\n\n", dialable(n.APIAddr()))
}
