package api

import (
	"bytes"
	"cmp"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// FeedStore is what the API needs of the key store's feeds.
type FeedStore interface {
	Feed(name string) (keys.Feed, error)
	FeedBySlug(slug string) (keys.Feed, bool)
	TokenSlug(slug string) bool
	Feeds() []keys.Feed
	CreateFeed(o keys.FeedOptions) (keys.Feed, error)
	UpdateFeed(name string, p keys.FeedPatch) (keys.Feed, error)
	DeleteFeed(name string) (keys.Feed, error)
	AllowFeed(name string, ip netip.Addr, now time.Time) error
	ChargeFeed(name string, events, bytes int, now time.Time) (int64, error)
	RefundFeed(name string, events, bytes int, now time.Time)
	FeedUsage(name string) (keys.FeedUsage, error)
	KeysOfFeed(name string) []keys.Key
	UsageReport(month, feed string) []keys.UsageRow
}

// Default ingest limits of a new webhook feed, whose slug alone
// authorizes: one client IP may post 5 events a second, the feed 50.
const (
	DefaultWebhookRate   = 50
	DefaultWebhookIPRate = 5
)

// FeedRequest is the body of POST /api/admin/feeds. Absent rates of a
// webhook feed get the defaults above; 0 means unlimited.
type FeedRequest struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"` // stellar (default) or webhook
	Label        string   `json:"label,omitempty"`
	Slugs        []string `json:"slugs,omitempty"`
	RequireToken bool     `json:"requireToken,omitempty"`
	MaxBytes     int      `json:"maxBytes,omitempty"`
	MonthlyQuota int64    `json:"monthlyQuota,omitempty"`
	RatePerSec   *float64 `json:"ratePerSec,omitempty"`
	IPRatePerSec *float64 `json:"ipRatePerSec,omitempty"`
}

// Options converts the request into feed options; the CLI uses it when it
// owns the database itself.
func (r *FeedRequest) Options() keys.FeedOptions {
	o := keys.FeedOptions{
		Name: strings.TrimSpace(r.Name), Kind: keys.FeedKind(strings.ToLower(strings.TrimSpace(r.Kind))), Label: r.Label,
		Slugs: r.Slugs, RequireToken: r.RequireToken, MaxBytes: r.MaxBytes, MonthlyQuota: r.MonthlyQuota,
	}
	if o.Kind == keys.FeedWebhook {
		o.RatePerSec, o.IPRatePerSec = DefaultWebhookRate, DefaultWebhookIPRate
	}
	if r.RatePerSec != nil {
		o.RatePerSec = *r.RatePerSec
	}
	if r.IPRatePerSec != nil {
		o.IPRatePerSec = *r.IPRatePerSec
	}
	return o
}

// FeedPatchRequest is the body of PATCH /api/admin/feeds/{name}.
type FeedPatchRequest struct {
	Label        *string   `json:"label,omitempty"`
	Slugs        *[]string `json:"slugs,omitempty"`
	RequireToken *bool     `json:"requireToken,omitempty"`
	MaxBytes     *int      `json:"maxBytes,omitempty"`
	MonthlyQuota *int64    `json:"monthlyQuota,omitempty"`
	RatePerSec   *float64  `json:"ratePerSec,omitempty"`
	IPRatePerSec *float64  `json:"ipRatePerSec,omitempty"`
}

// Patch converts the request into a feed patch.
func (p *FeedPatchRequest) Patch() keys.FeedPatch {
	return keys.FeedPatch{
		Label: p.Label, Slugs: p.Slugs, RequireToken: p.RequireToken, MaxBytes: p.MaxBytes,
		MonthlyQuota: p.MonthlyQuota, RatePerSec: p.RatePerSec, IPRatePerSec: p.IPRatePerSec,
	}
}

// FeedInfo answers the feed endpoints.
type FeedInfo struct {
	Feed  keys.Feed       `json:"feed"`
	Usage *keys.FeedUsage `json:"usage,omitempty"`
	Keys  int             `json:"keys"` // live keys of the feed
}

// FeedList answers GET /api/admin/feeds.
type FeedList struct {
	Feeds []FeedInfo `json:"feeds"`
}

// inScope reports whether an admin token scoped to feed scope ("" for
// every feed) may see key k. Admin tokens without a feed belong to no feed.
func inScope(k *keys.Key, scope string) bool {
	if scope == "" {
		return true
	}
	if k.Kind == keys.KindAdmin && k.Feed == "" {
		return false
	}
	return cmp.Or(k.Feed, keys.DefaultFeed) == scope
}

func (a *API) feedInfo(f keys.Feed) FeedInfo {
	return StoreFeeds{Keys: a.deps.Keys}.Info(f)
}

// feeds serves /api/admin/feeds[/{name}]; parts[0] is "feeds". A token
// scoped to a feed may read its own feed only; changing feeds takes an
// admin token without a feed.
func (a *API) feeds(ctx *fasthttp.RequestCtx, parts []string, scope string) {
	method := string(ctx.Method())
	readOnly := method == fasthttp.MethodGet || method == fasthttp.MethodHead
	if scope != "" && !readOnly {
		writeError(ctx, fasthttp.StatusForbidden, "this admin token manages feed "+scope+" only: changing feeds takes an admin token without a feed")
		return
	}
	switch {
	case len(parts) == 1 && readOnly:
		list := FeedList{Feeds: []FeedInfo{}}
		for _, f := range a.deps.Keys.Feeds() {
			if scope == "" || f.Name == scope {
				list.Feeds = append(list.Feeds, a.feedInfo(f))
			}
		}
		writeJSON(ctx, fasthttp.StatusOK, list)
	case len(parts) == 1 && method == fasthttp.MethodPost:
		var req FeedRequest
		if !decodeBody(ctx, &req) {
			return
		}
		f, err := a.deps.Keys.CreateFeed(req.Options())
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("feed created", "feed", f.Name, "kind", f.Kind)
		writeJSON(ctx, fasthttp.StatusCreated, a.feedInfo(f))
	case len(parts) == 1:
		ctx.Response.Header.Set("Allow", "GET, POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	case len(parts) == 2 && scope != "" && parts[1] != scope:
		writeError(ctx, fasthttp.StatusNotFound, "feed not found")
	case len(parts) == 2 && readOnly:
		f, err := a.deps.Keys.Feed(parts[1])
		if err != nil {
			writeError(ctx, fasthttp.StatusNotFound, "feed not found")
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, a.feedInfo(f))
	case len(parts) == 2 && method == fasthttp.MethodPatch:
		var req FeedPatchRequest
		if !decodeBody(ctx, &req) {
			return
		}
		f, err := a.deps.Keys.UpdateFeed(parts[1], req.Patch())
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("feed updated", "feed", f.Name)
		writeJSON(ctx, fasthttp.StatusOK, a.feedInfo(f))
	case len(parts) == 2 && method == fasthttp.MethodDelete:
		f, err := a.deps.Keys.DeleteFeed(parts[1])
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("feed deleted", "feed", f.Name)
		writeJSON(ctx, fasthttp.StatusOK, FeedInfo{Feed: f})
	case len(parts) == 2:
		ctx.Response.Header.Set("Allow", "GET, PATCH, DELETE")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	}
}

// UsageReport answers GET /api/admin/usage as JSON.
type UsageReport struct {
	Month string          `json:"month"`
	Rows  []keys.UsageRow `json:"rows"`
}

// usage serves GET /api/admin/usage?month=2026-12[&feed=NAME][&format=csv]:
// the month's billing lines (default: this month), as JSON or CSV.
func (a *API) usage(ctx *fasthttp.RequestCtx, scope string) {
	if !ctx.IsGet() {
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
		return
	}
	args := ctx.QueryArgs()
	month := keys.MonthKey(a.now())
	if m := string(args.Peek("month")); m != "" {
		var err error
		if month, err = keys.ParseMonth(m); err != nil {
			a.storeError(ctx, err)
			return
		}
	}
	feed := string(args.Peek("feed"))
	if scope != "" {
		if feed != "" && feed != scope {
			writeError(ctx, fasthttp.StatusNotFound, "feed not found")
			return
		}
		feed = scope
	}
	rows := a.deps.Keys.UsageReport(month, feed)
	if rows == nil {
		rows = []keys.UsageRow{}
	}
	if string(args.Peek("format")) == "csv" {
		var buf bytes.Buffer
		if err := keys.WriteUsageCSV(&buf, rows); err != nil {
			a.storeError(ctx, err)
			return
		}
		ctx.SetContentType("text/csv; charset=utf-8")
		ctx.Response.Header.Set("Content-Disposition", `attachment; filename="stellarfeed-usage-`+month+`.csv"`)
		ctx.SetBody(buf.Bytes())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, UsageReport{Month: month, Rows: rows})
}
