package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/node"
)

// feedAdmin is what the feeds command needs: the store itself when no
// server runs, or the running server's admin API.
type feedAdmin interface {
	ListFeeds(ctx context.Context) (api.FeedList, error)
	GetFeed(ctx context.Context, name string) (api.FeedInfo, error)
	CreateFeed(ctx context.Context, req api.FeedRequest) (api.FeedInfo, error)
	UpdateFeed(ctx context.Context, name string, p api.FeedPatchRequest) (api.FeedInfo, error)
	DeleteFeed(ctx context.Context, name string) (api.FeedInfo, error)
	Usage(ctx context.Context, month, feed string) (api.UsageReport, error)
	UsageCSV(ctx context.Context, w io.Writer, month, feed string) error
}

const feedsUsage = `Usage: stellarfeed feeds <create|list|show|update|delete> [flags] [NAME]

  create  NAME [--kind stellar|webhook] [--slug S[,S]] [--require-token] [limits]
  list    one line per feed with this month's events and keys
  show    NAME          settings and usage by month
  update  NAME [flags]  change slugs, token requirement, limits
  delete  NAME          only a feed without live keys; "default" stays

A feed isolates its subscribers: a key (keys create --feed NAME) receives that
feed's events only. A stellar feed carries Stellar pings; a webhook feed any JSON
posted to POST /api/in/{slug}. The slug alone authorizes unless --require-token
(then an ingest token of the feed is needed too). New webhook feeds limit ingest
to 5 requests/s per client IP and 50/s per feed unless --ip-rate/--rate say
otherwise (0 = unlimited).

While a server runs, these go through its admin API; otherwise they open the
database directly. See docs/feeds.md.
`

func cmdFeeds(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, feedsUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("feeds "+sub, "", stderr)
	dataDir := fs.String("data", "data", "data directory (env STELLARFEED_DATA)")
	apiURL := fs.String("api", "", "admin API of a running server (env STELLARFEED_API)")
	token := fs.String("admin-token", "", "admin token for --api (env STELLARFEED_ADMIN_TOKEN)")
	var ff feedFlags
	switch sub {
	case "create", "update":
		ff.register(fs, sub == "create")
	case "list", "show", "delete":
	default:
		fmt.Fprintf(stderr, "stellarfeed feeds: unknown subcommand %q\n\n%s", sub, feedsUsage)
		return errUsage
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (sub == "list") != (fs.NArg() == 0) || fs.NArg() > 1 {
		fmt.Fprint(stderr, feedsUsage)
		return errUsage
	}
	admin, closeAdmin, err := openFeedAdmin(*dataDir, *apiURL, *token)
	if err != nil {
		return err
	}
	defer closeAdmin()
	name := fs.Arg(0)
	switch sub {
	case "create":
		req := ff.request(fs)
		req.Name = name
		info, err := admin.CreateFeed(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s feed %s\n", info.Feed.Kind, info.Feed.Name)
		for _, s := range info.Feed.Slugs {
			fmt.Fprintf(stdout, "  ingest: POST /api/in/%s\n", s)
		}
		fmt.Fprintf(stdout, "  subscriber keys: stellarfeed keys create --feed %s\n", info.Feed.Name)
	case "update":
		info, err := admin.UpdateFeed(ctx, name, ff.patch(fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated %s\n", info.Feed.Name)
	case "delete":
		info, err := admin.DeleteFeed(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s\n", info.Feed.Name)
	case "list":
		list, err := admin.ListFeeds(ctx)
		if err != nil {
			return err
		}
		printFeedTable(stdout, list, keys.MonthKey(time.Now()))
	case "show":
		info, err := admin.GetFeed(ctx, name)
		if err != nil {
			return err
		}
		printFeed(stdout, info)
	}
	return nil
}

// feedFlags are the settings of create and update.
type feedFlags struct {
	kind, label, slugs *string
	requireToken       *bool
	maxBytes           *int
	quota              *int64
	rate, ipRate       *float64
}

func (f *feedFlags) register(fs *flag.FlagSet, create bool) {
	if create {
		f.kind = fs.String("kind", "stellar", "stellar (Stellar pings) or webhook (any JSON)")
	}
	f.label = fs.String("label", "", "label, e.g. the customer or product")
	f.slugs = fs.String("slug", "", "comma-separated slugs of POST /api/in/{slug} (3-64 of a-z 0-9 -)")
	f.requireToken = fs.Bool("require-token", false, "the slug alone is not enough: an ingest token of the feed is required")
	f.maxBytes = fs.Int("max-bytes", 0, "largest webhook body in bytes (0 = 65536)")
	f.quota = fs.Int64("monthly-quota", 0, "events accepted per UTC month (0 = unlimited); over it: 402")
	f.rate = fs.Float64("rate", 0, "ingest requests per second to the feed (0 = unlimited; webhook default 50)")
	f.ipRate = fs.Float64("ip-rate", 0, "ingest requests per second from one client IP (0 = unlimited; webhook default 5)")
}

func (f *feedFlags) request(fs *flag.FlagSet) api.FeedRequest {
	req := api.FeedRequest{
		Kind: *f.kind, Label: *f.label, Slugs: splitList(*f.slugs), RequireToken: *f.requireToken,
		MaxBytes: *f.maxBytes, MonthlyQuota: *f.quota,
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "rate":
			req.RatePerSec = f.rate
		case "ip-rate":
			req.IPRatePerSec = f.ipRate
		}
	})
	return req
}

// patch includes only the flags given on the command line.
func (f *feedFlags) patch(fs *flag.FlagSet) api.FeedPatchRequest {
	var p api.FeedPatchRequest
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "label":
			p.Label = f.label
		case "slug":
			s := splitList(*f.slugs)
			p.Slugs = &s
		case "require-token":
			p.RequireToken = f.requireToken
		case "max-bytes":
			p.MaxBytes = f.maxBytes
		case "monthly-quota":
			p.MonthlyQuota = f.quota
		case "rate":
			p.RatePerSec = f.rate
		case "ip-rate":
			p.IPRatePerSec = f.ipRate
		}
	})
	return p
}

func printFeedTable(w io.Writer, list api.FeedList, month string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tKEYS\tSLUGS\tTOKEN\tQUOTA\tEVENTS "+month+"\tLABEL")
	for _, fi := range list.Feeds {
		f := fi.Feed
		var events int64
		if fi.Usage != nil {
			events = fi.Usage.Months[month].Events
		}
		quota := "-"
		if f.MonthlyQuota > 0 {
			quota = fmt.Sprint(f.MonthlyQuota)
		}
		tok := "slug alone"
		if f.RequireToken {
			tok = "required"
		}
		slugs := strings.Join(f.Slugs, ",")
		if slugs == "" {
			slugs, tok = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", f.Name, f.Kind, fi.Keys, slugs, tok, quota, events, f.Label)
	}
	tw.Flush()
}

func printFeed(w io.Writer, fi api.FeedInfo) {
	f := fi.Feed
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", name, v) }
	row("name", f.Name)
	row("kind", f.Kind)
	row("label", f.Label)
	row("created", f.Created.Format(time.RFC3339))
	row("live keys", fi.Keys)
	for _, s := range f.Slugs {
		row("ingest", "POST /api/in/"+s)
	}
	row("token required", f.RequireToken)
	if f.Webhook() {
		row("max body bytes", f.BodyLimit())
	}
	row("monthly quota", orUnlimited(float64(f.MonthlyQuota)))
	row("rate per second", orUnlimited(f.RatePerSec))
	row("rate per second per IP", orUnlimited(f.IPRatePerSec))
	if fi.Usage != nil {
		months := make([]string, 0, len(fi.Usage.Months))
		for m := range fi.Usage.Months {
			months = append(months, m)
		}
		slices.Sort(months)
		for _, m := range months {
			u := fi.Usage.Months[m]
			row("usage "+m, fmt.Sprintf("%d events, %d bytes, %d over quota, %d rate-limited", u.Events, u.Bytes, u.OverQuota, u.RateLimited))
		}
	}
	tw.Flush()
}

func orUnlimited(v float64) string {
	if v <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// cmdKeysUsage is `keys usage --month 2026-12 [--feed NAME] [--csv]`: the
// month's billing lines per feed and key.
func cmdKeysUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys usage", "", stderr)
	dataDir := fs.String("data", "data", "data directory (env STELLARFEED_DATA)")
	apiURL := fs.String("api", "", "admin API of a running server (env STELLARFEED_API)")
	token := fs.String("admin-token", "", "admin token for --api (env STELLARFEED_ADMIN_TOKEN)")
	month := fs.String("month", keys.MonthKey(time.Now()), "UTC month, e.g. 2026-12")
	feed := fs.String("feed", "", "one feed only (default: every feed)")
	asCSV := fs.Bool("csv", false, "CSV with a header line, for billing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errUsage
	}
	m, err := keys.ParseMonth(*month)
	if err != nil {
		return err
	}
	admin, closeAdmin, err := openFeedAdmin(*dataDir, *apiURL, *token)
	if err != nil {
		return err
	}
	defer closeAdmin()
	if *asCSV {
		return admin.UsageCSV(ctx, stdout, m, *feed)
	}
	rep, err := admin.Usage(ctx, m, *feed)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MONTH\tFEED\tKEY\tKIND\tLABEL\tEVENTS\tCONNECTIONS\tCONNECTED\tDELIVERIES\tINGEST PINGS")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%d\n", r.Month, r.Feed, r.KeyID, r.Kind, r.Label, r.Events,
			r.Connections, time.Duration(r.ConnectedSeconds)*time.Second, r.Deliveries, r.IngestPings)
	}
	return tw.Flush()
}

// openFeedAdmin opens the store, or the running server's admin API when
// the server holds it (as openKeyAdmin does).
func openFeedAdmin(dataDir, apiURL, token string) (feedAdmin, func(), error) {
	st, cl, closeFn, err := openStoreOrAPI(dataDir, apiURL, token)
	switch {
	case err != nil:
		return nil, nil, err
	case cl != nil:
		return cl, closeFn, nil
	}
	return localFeeds{StoreFeeds: api.StoreFeeds{Keys: st}, st: st}, closeFn, nil
}

// openStoreOrAPI opens the key store in dataDir, or returns a client of
// the admin API at apiURL, or of the running server that holds dataDir:
// exactly one of st and cl is set.
func openStoreOrAPI(dataDir, apiURL, token string) (st *keys.Store, cl *api.Client, closeFn func(), err error) {
	if apiURL != "" {
		if token == "" {
			return nil, nil, nil, errors.New("--api needs --admin-token (or STELLARFEED_ADMIN_TOKEN)")
		}
		return nil, api.NewClient(apiURL, token, nil), func() {}, nil
	}
	db, err := node.OpenDB(dataDir, false)
	if errors.Is(err, node.ErrLocked) {
		url, tok, lerr := node.LocalAPI(dataDir)
		if lerr != nil {
			return nil, nil, nil, fmt.Errorf("%w, and its API cannot be found: %v", err, lerr)
		}
		return nil, api.NewClient(url, tok, nil), func() {}, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if st, err = keys.Open(db); err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return st, nil, func() { db.Close() }, nil
}

// localFeeds serves feedAdmin straight from the store, through the same
// feed service as the admin API and the console.
type localFeeds struct {
	api.StoreFeeds
	st *keys.Store
}

func (l localFeeds) Usage(_ context.Context, month, feed string) (api.UsageReport, error) {
	if feed != "" {
		if _, err := l.st.Feed(feed); err != nil {
			return api.UsageReport{}, err
		}
	}
	return api.UsageReport{Month: month, Rows: l.st.UsageReport(month, feed)}, nil
}

func (l localFeeds) UsageCSV(ctx context.Context, w io.Writer, month, feed string) error {
	rep, err := l.Usage(ctx, month, feed)
	if err != nil {
		return err
	}
	return keys.WriteUsageCSV(w, rep.Rows)
}
