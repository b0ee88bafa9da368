package main

import (
	"context"
	"fmt"
	"io"

	"github.com/stellarfeed/stellarfeed/internal/node"
)

// cmdAdminToken prints the admin token, for the console's login where
// there is no shell to cat it (the distroless container image).
func cmdAdminToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("admin-token", "", stderr)
	dataDir := fs.String("data", "data", "the server's data directory (env STELLARFEED_DATA)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	tok, err := node.AdminToken(*dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
