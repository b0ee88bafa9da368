package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// keyAdmin is what the keys command needs; it is served by the store
// directly when no server runs, or by the running server's admin API.
type keyAdmin interface {
	Create(ctx context.Context, req api.KeyRequest) (api.CreatedKey, error)
	List(ctx context.Context) (api.KeyList, error)
	Get(ctx context.Context, id string) (api.KeyInfo, error)
	Update(ctx context.Context, id string, p api.KeyPatch) (keys.Key, error)
	Rotate(ctx context.Context, id string) (api.CreatedKey, error)
	Revoke(ctx context.Context, id string) (keys.Key, error)
}

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
	admin, closeAdmin, err := openKeyAdmin(*dataDir, *apiURL, *token)
	if err != nil {
		return err
	}
	defer closeAdmin()

	switch sub {
	case "create":
		if *ingest && *adminKind {
			return errors.New("--ingest and --admin exclude each other")
		}
		req := patch.request()
		req.Feed = *feed
		req.Kind = string(keys.KindSubscriber)
		if *ingest {
			req.Kind = string(keys.KindIngest)
		} else if *adminKind {
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
		k, err := admin.Update(ctx, fs.Arg(0), patch.patch(fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated %s\n", k.ID)
	case "rotate":
		ck, err := admin.Rotate(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "rotated %s; the old secret no longer works. New secret:\n", ck.Key.ID)
		fmt.Fprintln(stdout, ck.Secret)
	case "revoke":
		k, err := admin.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", k.ID, labelOr(k.Label))
	}
	return nil
}

// openKeyAdmin prefers the database; when a running server holds it, the
// server's admin API answers instead, so a revoke also kicks live clients.
func openKeyAdmin(dataDir, apiURL, token string) (keyAdmin, func(), error) {
	st, cl, closeFn, err := openStoreOrAPI(dataDir, apiURL, token)
	switch {
	case err != nil:
		return nil, nil, err
	case cl != nil:
		return cl, closeFn, nil
	}
	return localKeys{st}, closeFn, nil
}

// localKeys serves keyAdmin straight from the store.
type localKeys struct{ st *keys.Store }

func (l localKeys) Create(_ context.Context, req api.KeyRequest) (api.CreatedKey, error) {
	o, err := req.Options(time.Now())
	if err != nil {
		return api.CreatedKey{}, err
	}
	secret, k, err := l.st.Create(o)
	return api.CreatedKey{Secret: secret, Key: k}, err
}

func (l localKeys) List(context.Context) (api.KeyList, error) {
	list := api.KeyList{Keys: l.st.List(), Usage: map[string]keys.Usage{}}
	for _, k := range list.Keys {
		if u, err := l.st.Usage(k.ID); err == nil {
			list.Usage[k.ID] = u
		}
	}
	return list, nil
}

func (l localKeys) Get(_ context.Context, id string) (api.KeyInfo, error) {
	k, err := l.resolve(id)
	if err != nil {
		return api.KeyInfo{}, err
	}
	info := api.KeyInfo{Key: k}
	if u, err := l.st.Usage(k.ID); err == nil {
		info.Usage = &u
	}
	return info, nil
}

func (l localKeys) Update(_ context.Context, id string, p api.KeyPatch) (keys.Key, error) {
	k, err := l.resolve(id)
	if err != nil {
		return keys.Key{}, err
	}
	kp, err := p.Patch(time.Now())
	if err != nil {
		return keys.Key{}, err
	}
	return l.st.Update(k.ID, kp)
}

func (l localKeys) Rotate(_ context.Context, id string) (api.CreatedKey, error) {
	k, err := l.resolve(id)
	if err != nil {
		return api.CreatedKey{}, err
	}
	secret, k, err := l.st.Rotate(k.ID)
	return api.CreatedKey{Secret: secret, Key: k}, err
}

func (l localKeys) Revoke(_ context.Context, id string) (keys.Key, error) { return l.st.Revoke(id) }

// resolve accepts an id or a secret, as revoke does.
func (l localKeys) resolve(idOrSecret string) (keys.Key, error) {
	if k, err := l.st.Get(idOrSecret); err == nil {
		return k, nil
	}
	for _, kind := range []keys.Kind{keys.KindSubscriber, keys.KindIngest, keys.KindAdmin} {
		if strings.HasPrefix(idOrSecret, kind.Prefix()) {
			if k, err := l.st.Check(idOrSecret, kind, time.Now()); err == nil {
				return k, nil
			}
		}
	}
	return l.st.Get(idOrSecret)
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
			s := splitList(*p.scopes)
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

func keyState(k keys.Key, now time.Time) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case k.Disabled:
		return "disabled"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "active"
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\n", k.ID, k.Kind, keyState(k, now), k.Label,
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
	row("state", keyState(k, time.Now()))
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
