package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/inspect"
	"github.com/stellarfeed/stellarfeed/stellar"
)

const checkSynopsis = `--site SITE [--region R] (--sku SKU | --store URL --handle H) [--page FILE [--offers FILE]...] [--json]

Check one product once and explain what the monitor sees: the outcome (in
stock, out of stock, blocked and the marker that matched, unknown layout),
price to pay, currency, merchant and whether it is the retailer itself,
offer id, image, title, the evidence that decided, and the Stellar ping it
would send. With --page the product page is read from a saved file (and
--offers files answer the offers requests that follow, in order);
without it the page is fetched through the configured proxies.

Examples:
  stellarfeed check --site amazon --region DE --sku B0CHX1W1XY --merchant amazon
  stellarfeed check --site amazon --region UK --sku 1849757097 --page saved.html --json
  stellarfeed check --site walmart --region USA --sku 5113183757 --fulfillment any`

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", checkSynopsis, stderr)
	site := fs.String("site", "", "monitor: amazon, walmart or shopify")
	region := fs.String("region", "", "Amazon USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU; Walmart USA or CA")
	sku := fs.String("sku", "", "ASIN (Amazon) or item id (Walmart)")
	store := fs.String("store", "", "Shopify store origin, e.g. https://shop.example.com")
	handle := fs.String("handle", "", "Shopify product handle")
	merchant := fs.String("merchant", "", `merchant filter: any, amazon, walmart or a seller id (default any)`)
	maxPrice := fs.Float64("max-price", 0, "drop offers above this price (0: no cap)")
	condition := fs.String("condition", "", "offer conditions that may ping, comma-separated: new, used, renewed, any (default new)")
	fulfillment := fs.String("fulfillment", "", "Walmart: shipping (default), pickup or any")
	baseURL := fs.String("base-url", "", "replace the retailer's origin, e.g. the simulator's http://127.0.0.1:8089/www.amazon.com")
	stellarSite := fs.String("stellar-site", "", "site name the ping carries (default: the monitor's, or the config's)")
	cfgPath := fs.String("config", "", "config file: proxies, user agents, timeouts, Stellar site names, and the target's own settings when it is configured (env STELLARFEED_CONFIG)")
	page := fs.String("page", "", "read the product page from this file instead of fetching it")
	var offers listFlag
	fs.Var(&offers, "offers", "with --page: a saved offers fragment for the next request (repeat for further pages)")
	status := fs.Int("status", 200, "with --page: the HTTP status the saved page is served with")
	asJSON := fs.Bool("json", false, "print one JSON object (outcome, price, currency, merchant, soldByAmazon, offerId, image, title, evidence, ping)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "check: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if *site == "" {
		fmt.Fprintln(stderr, "check: --site is required (amazon, walmart or shopify)")
		return errUsage
	}
	if *page == "" && len(offers) > 0 {
		fmt.Fprintln(stderr, "check: --offers needs --page (offers fragments follow a saved product page)")
		return errUsage
	}

	t := monitors.Target{
		Site: *site, Region: *region, SKU: *sku, Store: *store, Handle: *handle,
		Merchant: *merchant, MaxPrice: *maxPrice, Fulfillment: *fulfillment,
		StellarSite: *stellarSite, BaseURL: *baseURL,
	}
	if *condition != "" {
		for _, c := range strings.Split(*condition, ",") {
			t.Conditions = append(t.Conditions, strings.TrimSpace(c))
		}
	}
	var (
		rules stellar.Rules
		fopts fetch.Options
	)
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		rules = c.Rules()
		e := c.Engine
		fopts = fetch.Options{
			Client: fetch.Client(e.Client), Timeout: e.Timeout, UserAgents: e.UserAgents, Proxies: e.Proxies,
			MaxBodyBytes: int(e.MaxBody), ProxyLimit: fetch.Limit{RatePerSec: e.ProxyLimit.Rate, Burst: e.ProxyLimit.Burst},
		}
		// A configured target brings its own filters, site name and
		// origin; flags given on the command line still win.
		for _, spec := range c.Targets() {
			if spec.Site == t.Site && spec.Region == t.Region && spec.SKU == t.SKU && spec.Store == t.Store && spec.Handle == t.Handle {
				t = mergeTarget(spec.Target, t, func(name string) bool { return flagSet(fs, name) })
				break
			}
		}
	}

	m, err := monitors.New(t.Site)
	if err != nil {
		return err
	}
	if err := monitors.Validate(m, &t); err != nil {
		return fmt.Errorf("target: %w", err)
	}

	var f monitors.Fetcher
	if *page != "" {
		saved := &inspect.Pages{Status: *status}
		for _, name := range append([]string{*page}, offers...) {
			b, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("read saved page: %w", err)
			}
			saved.Bodies = append(saved.Bodies, b)
			saved.Names = append(saved.Names, name)
		}
		f = saved
	} else {
		ef, err := fetch.New(fopts)
		if err != nil {
			return fmt.Errorf("fetcher: %w", err)
		}
		defer ef.CloseIdleConnections()
		f = ef
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep := inspect.Run(ctx, m, &t, f, rules)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	printReport(stdout, &t, rep)
	return nil
}

// mergeTarget takes the configured target and lays the flags given on
// the command line over it.
func mergeTarget(conf, flags monitors.Target, given func(name string) bool) monitors.Target {
	t := conf
	if given("merchant") {
		t.Merchant = flags.Merchant
	}
	if given("max-price") {
		t.MaxPrice = flags.MaxPrice
	}
	if given("condition") {
		t.Conditions = flags.Conditions
	}
	if given("fulfillment") {
		t.Fulfillment = flags.Fulfillment
	}
	if given("base-url") {
		t.BaseURL = flags.BaseURL
	}
	if given("stellar-site") {
		t.StellarSite = flags.StellarSite
	}
	return t
}

// outcomeText is how the report names an outcome.
var outcomeText = map[string]string{
	"in_stock":       "IN STOCK",
	"out_of_stock":   "OUT OF STOCK",
	"blocked":        "BLOCKED (bot wall: the engine backs off and rotates proxies)",
	"unknown_layout": "UNKNOWN LAYOUT (the page is not one the parser knows: neither a block nor out of stock)",
	"error":          "ERROR (the check says nothing about stock)",
}

func printReport(w io.Writer, t *monitors.Target, r inspect.Report) {
	what := t.SKU
	if t.Handle != "" {
		what = t.Store + " " + t.Handle
	}
	fmt.Fprintf(w, "%s %s %s\n", t.Site, t.Region, what)
	out := outcomeText[r.Outcome]
	if out == "" {
		out = r.Outcome
	}
	row := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "  %-13s %s\n", k+":", v)
	}
	row("outcome", out)
	row("reason", r.Reason)
	row("evidence", r.Evidence)
	price := r.Price
	if price != "" && r.Currency != "" {
		price += " " + r.Currency
	}
	row("price", price)
	merchant := r.Merchant
	if merchant != "" {
		retailer := "amazon"
		if t.Site != "amazon" {
			retailer = t.Site
		}
		if r.SoldByAmazon {
			merchant += " (" + retailer + " itself)"
		} else {
			merchant += " (not " + retailer + ")"
		}
	}
	row("merchant", merchant)
	row("condition", r.Condition)
	row("offer id", r.OfferID)
	row("title", r.Title)
	row("image", r.Image)
	for i, u := range r.Requests {
		row(fmt.Sprintf("request %d", i+1), u)
	}
	switch {
	case r.Ping != nil:
		b, _ := json.Marshal(r.Ping)
		row("ping", string(b))
		if r.PingError != "" {
			row("ping note", r.PingError)
		}
	case r.PingError != "":
		row("ping", r.PingError)
	default:
		row("ping", "none (nothing in stock passes the filters)")
	}
}
