// Command stellarfeed is a restock monitor engine with a built-in Stellar
// ping broadcaster. Run `stellarfeed help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// command is one subcommand. run gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"run":         {"start the broadcaster, ingest API and monitor engine", cmdRun},
		"keys":        {"create, list, show, update, rotate and revoke API keys", cmdKeys},
		"feeds":       {"create, list, show, update and delete feeds (isolated streams)", cmdFeeds},
		"watch":       {"connect to a feed like a Stellar bot and print each ping", cmdWatch},
		"sim":         {"serve the built-in retailer simulator", cmdSim},
		"config":      {"check a config file (config check FILE)", cmdConfig},
		"version":     {"print the version", cmdVersion},
		"check":       {"check one product once and explain what the monitor sees", cmdCheck},
		"healthcheck": {"exit 0 if the server on --api-addr is ready (for container health checks)", cmdHealthcheck},
		"admin-token": {"print the admin token (console login, admin API) from the data directory", cmdAdminToken},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "stellarfeed: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errPrinted):
		return 1
	default:
		fmt.Fprintf(stderr, "stellarfeed %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage reports a command line error that has already been printed.
var errUsage = errors.New("usage error")

func usage(w io.Writer) {
	fmt.Fprint(w, `stellarfeed: restock monitors and a Stellar ping broadcaster.

Usage: stellarfeed <command> [flags]

Commands:
`)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `
Run "stellarfeed <command> --help" for a command's flags.
With no config, "stellarfeed run" starts everything on the embedded demo.
`)
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stellarfeed", buildVersion())
	return nil
}
