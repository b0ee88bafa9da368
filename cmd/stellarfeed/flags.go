package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet returns a flag set whose usage names the command and lists
// the environment variable of each flag that has one.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: stellarfeed %s [flags] %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, then fills every flag left unset on the command
// line from its environment variable (named in its usage as "(env NAME)").
// Command line beats environment, which beats the config file.
//
// Flags may follow positional arguments ("keys revoke KEY --data d"): the
// positional ones are collected and left in fs.Args().
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Usage)
		if set[f.Name] || env == "" || err != nil {
			return
		}
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// flagSet reports whether the named flag was given on the command line or
// through its environment variable.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	if found {
		return true
	}
	if f := fs.Lookup(name); f != nil {
		if env := envName(f.Usage); env != "" {
			_, found = os.LookupEnv(env)
		}
	}
	return found
}

func envName(usage string) string {
	i := strings.Index(usage, "(env ")
	if i < 0 {
		return ""
	}
	rest := usage[i+len("(env "):]
	if j := strings.IndexByte(rest, ')'); j > 0 {
		return rest[:j]
	}
	return ""
}
