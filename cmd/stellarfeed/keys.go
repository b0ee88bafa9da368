package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

const keysUsage = `Usage: stellarfeed keys <create|list|show|update|rotate|revoke> [flags] [KEY]

  create  [--ingest|--admin] [--feed NAME] [--label L] [--expires 720h|2027-01-02T15:04:05Z] [limits]
          prints the new secret alone on stdout's last line
  list    one line per key with its usage
  show    KEY|ID        everything about one key
  update  KEY|ID [flags] change label, expiry, limits; --enable / --disable
  rotate  KEY|ID        new secret, same settings; the old one stops working
  revoke  KEY|ID        live connections are closed with 1008
  usage   --month 2026-12 [--feed NAME] [--csv]  billing lines per feed and key

While a server runs, these go through its admin API (address and token are read
from the data directory); otherwise they open the database directly.
`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, keysUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	if sub == "usage" {
		return cmdKeysUsage(ctx, args, stdout, stderr)
	}
	fs := newFlagSet("keys "+sub, "", stderr)
	dataDir := fs.String("data", "data", "data directory (env STELLARFEED_DATA)")
	apiURL := fs.String("api", "", "admin API of a running server, e.g. http://127.0.0.1:8081 (env STELLARFEED_API)")
	token := fs.String("admin-token", "", "admin token for --api (env STELLARFEED_ADMIN_TOKEN)")
	var patch patchFlags
	var ingest, adminKind *bool
	var feed *string
	switch sub {
	case "create", "update":
		if sub == "create" {
			ingest = fs.Bool("ingest", false, "create an ingest token (for POST /api/pings) instead of a subscriber key")
			adminKind = fs.Bool("admin", false, "create an admin token (for /api/admin/)")
			feed = fs.String("feed", "", "the feed the key belongs to (default: the default feed; admin tokens: every feed)")
		}
		patch.register(fs)
	case "list", "show", "rotate", "revoke":
	default:
		fmt.Fprintf(stderr, "stellarfeed keys: unknown subcommand %q\n\n%s", sub, keysUsage)
		return errUsage
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	needsArg := sub != "create" && sub != "list"
	if needsArg != (fs.NArg() == 1) || fs.NArg() > 1 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	if *apiURL == "" && !flagSet(fs, "data") {
		// A typo'd or forgotten --data must not quietly create an empty
		// ./data whose keys no server reads.
		if _, err := os.Stat(*dataDir); errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("no data directory %q here: pass --data with the server's data directory (server.data in its config), set STELLARFEED_DATA, or --api for a remote server", *dataDir)
		}
	}
	admin, closeAdmin, err := openKeyAdmin(*dataDir, *apiURL, *token)
	if err != nil {
		return err
	}
	defer closeAdmin()
	kind := createKind{ingest: ingest != nil && *ingest, admin: adminKind != nil && *adminKind}
	if feed != nil {
		kind.feed = *feed
	}
	if err := runKeys(ctx, admin, sub, fs, &patch, kind, stdout, stderr); err != nil {
		return explainKeyError(err)
	}
	return nil
}

// explainKeyError words the errors of both back ends alike: the store's
// carry the operation and the key, the admin API's its status line.
func explainKeyError(err error) error {
	var ie *keys.InvalidError
	switch {
	case errors.As(err, &ie):
		return ie
	case errors.Is(err, keys.ErrNotFound):
		return errors.New("key not found (name it by its ID or its secret)")
	case errors.Is(err, keys.ErrConflict):
		return errors.New("conflict: the key is revoked, or the slug is taken")
	}
	return err
}

// createKind is what create's own flags ask for.
type createKind struct {
	ingest, admin bool
	feed          string
}

func runKeys(ctx context.Context, admin api.KeyService, sub string, fs *flag.FlagSet, patch *patchFlags, kind createKind, stdout, stderr io.Writer) error {

	switch sub {
	case "create":
		if kind.ingest && kind.admin {
			return errors.New("--ingest and --admin exclude each other")
		}
		req := patch.request()
		req.Feed = kind.feed
		req.Kind = string(keys.KindSubscriber)
		if kind.ingest {
			req.Kind = string(keys.KindIngest)
		} else if kind.admin {
			req.Kind = string(keys.KindAdmin)
		}
		ck, err := admin.Create(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created %s key %s (%s); the secret is shown only now:\n", ck.Key.Kind, ck.Key.ID, labelOr(ck.Key.Label))
		fmt.Fprintln(stdout, ck.Secret)
	case "list":
		list, err := admin.List(ctx)
		if err != nil {
			return err
		}
		printKeyTable(stdout, list)
	case "show":
		info, err := admin.Get(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		printKey(stdout, info)
	case "update":
		info, err := admin.Update(ctx, fs.Arg(0), patch.patch(fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "updated %s; it now reads:\n", info.Key.ID)
		printKey(stdout, info)
	case "rotate":
		ck, err := admin.Rotate(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "rotated %s; the old secret no longer works. New secret:\n", ck.Key.ID)
		fmt.Fprintln(stdout, ck.Secret)
	case "revoke":
		info, err := admin.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", info.Key.ID, labelOr(info.Key.Label))
	}
	return nil
}

// openKeyAdmin prefers the database; when a running server holds it, the
// server's admin API answers instead, so a revoke also kicks live clients.
func openKeyAdmin(dataDir, apiURL, token string) (api.KeyService, func(), error) {
	st, cl, closeFn, err := openStoreOrAPI(dataDir, apiURL, token)
	switch {
	case err != nil:
		return nil, nil, err
	case cl != nil:
		return cl, closeFn, nil
	}
	return api.StoreService{Keys: st}, closeFn, nil
}

// patchFlags are the settings shared by create and update.
type patchFlags struct {
	label, expires, scopes, slug *string
	maxConns, maxIPs             *int
	quota                        *int64
	rate                         *float64
	disable, enable              *bool
}

func (p *patchFlags) register(fs *flag.FlagSet) {
	p.label = fs.String("label", "", "label, e.g. the customer's name")
	p.expires = fs.String("expires", "", `expiry: a duration from now ("720h"), an RFC 3339 time, or "never"`)
	p.scopes = fs.String("scopes", "", `comma-separated sites/regions the key receives, e.g. "amazon:USA,walmart" (empty = all)`)
	p.maxConns = fs.Int("max-conns", 0, "concurrent connections allowed (0 = unlimited)")
	p.maxIPs = fs.Int("max-ips-per-day", 0, "distinct client IPs per UTC day (0 = off)")
	p.quota = fs.Int64("monthly-quota", 0, "ingest tokens: accepted pings per month (0 = unlimited)")
	p.rate = fs.Float64("rate", 0, "ingest tokens: requests per second (0 = unlimited)")
	p.slug = fs.String("slug", "", "ingest tokens: name for webhook ingest")
	p.disable = fs.Bool("disable", false, "disable the key (kept, but refused)")
	p.enable = fs.Bool("enable", false, "update: enable a disabled key")
}

func (p *patchFlags) request() api.KeyRequest {
	return api.KeyRequest{
		Label: *p.label, Expires: *p.expires, Disabled: *p.disable, MaxConns: *p.maxConns,
		Scopes: splitList(*p.scopes), MaxIPsPerDay: *p.maxIPs, MonthlyQuota: *p.quota,
		RatePerSec: *p.rate, Slug: *p.slug,
	}
}

// patch includes only the flags given on the command line.
func (p *patchFlags) patch(fs *flag.FlagSet) api.KeyPatch {
	var kp api.KeyPatch
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "label":
			kp.Label = p.label
		case "expires":
			kp.Expires = p.expires
		case "scopes":
			// Non-nil even when empty: --scopes "" means "every site",
			// and must reach the server as [] rather than null.
			s := append([]string{}, splitList(*p.scopes)...)
			kp.Scopes = &s
		case "max-conns":
			kp.MaxConns = p.maxConns
		case "max-ips-per-day":
			kp.MaxIPsPerDay = p.maxIPs
		case "monthly-quota":
			kp.MonthlyQuota = p.quota
		case "rate":
			kp.RatePerSec = p.rate
		case "slug":
			kp.Slug = p.slug
		case "disable":
			kp.Disabled = p.disable
		case "enable":
			v := !*p.enable
			kp.Disabled = &v
		}
	})
	return kp
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func labelOr(l string) string {
	if l == "" {
		return "no label"
	}
	return l
}

func printKeyTable(w io.Writer, list api.KeyList) {
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tLABEL\tEXPIRES\tCONNS\tMAX\tDELIVERED\tCONNECTED\tLAST SEEN\tREJECTED\tSCOPES")
	for _, k := range list.Keys {
		exp := "never"
		if !k.Expires.IsZero() {
			exp = k.Expires.Format(time.DateTime)
		}
		maxc := "-"
		if k.MaxConns > 0 {
			maxc = fmt.Sprint(k.MaxConns)
		}
		u := list.Usage[k.ID]
		seen := "-"
		if !u.LastSeen.IsZero() {
			seen = u.LastSeen.Format(time.DateTime) + " " + u.LastIP.String()
		}
		var rejected uint64
		for _, n := range u.Rejected {
			rejected += n
		}
		delivered := u.Deliveries
		if k.Kind == keys.KindIngest {
			delivered = u.IngestPings // what an ingest token moved: pings accepted
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\n", k.ID, k.Kind, api.KeyState(k, now), k.Label,
			exp, u.Conns, maxc, delivered, u.ConnectedTime.Round(time.Second), seen, rejected, strings.Join(k.Scopes, ","))
	}
	tw.Flush()
}

func printKey(w io.Writer, info api.KeyInfo) {
	k := info.Key
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", name, v) }
	row("id", k.ID)
	row("kind", k.Kind)
	row("state", api.KeyState(k, time.Now()))
	row("label", k.Label)
	if k.Feed != "" {
		row("feed", k.Feed)
	}
	row("created", k.Created.Format(time.RFC3339))
	if !k.Expires.IsZero() {
		row("expires", k.Expires.Format(time.RFC3339))
	}
	if !k.Revoked.IsZero() {
		row("revoked", k.Revoked.Format(time.RFC3339))
	}
	if k.MaxConns > 0 {
		row("max conns", k.MaxConns)
	}
	if len(k.Scopes) > 0 {
		row("scopes", strings.Join(k.Scopes, ", "))
	}
	if k.MaxIPsPerDay > 0 {
		row("max IPs per day", k.MaxIPsPerDay)
	}
	if k.MonthlyQuota > 0 {
		row("monthly quota", k.MonthlyQuota)
	}
	if k.RatePerSec > 0 {
		row("rate per second", k.RatePerSec)
	}
	if k.Slug != "" {
		row("slug", k.Slug)
	}
	if u := info.Usage; u != nil {
		row("connections now", u.Conns)
		row("connections ever", u.Connections)
		row("connected time", u.ConnectedTime.Round(time.Second))
		row("pings delivered", u.Deliveries)
		if !u.LastSeen.IsZero() {
			row("last seen", fmt.Sprintf("%s from %s", u.LastSeen.Format(time.RFC3339), u.LastIP))
		}
		for reason, n := range u.Rejected {
			row("rejected ("+reason+")", n)
		}
		if u.IngestRequests > 0 {
			row("ingest requests", u.IngestRequests)
			row("ingest pings", u.IngestPings)
		}
	}
	tw.Flush()
}
