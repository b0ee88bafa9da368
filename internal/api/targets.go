package api

import (
	"context"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// Target is one monitored target and how its checks go, as
// GET /api/admin/targets shows it. Times are RFC 3339; a pointer is nil
// (omitted) until there is something to show.
type Target struct {
	ID          string     `json:"id"`
	Site        string     `json:"site"`
	Region      string     `json:"region,omitempty"`
	SKU         string     `json:"sku,omitempty"`
	Store       string     `json:"store,omitempty"`
	Handle      string     `json:"handle,omitempty"`
	Keywords    [][]string `json:"keywords,omitempty"`
	StellarSite string     `json:"stellarSite,omitempty"`
	Group       string     `json:"group,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	// Started is when the target's loop (re)started.
	Started time.Time `json:"started"`
	// Outcome of the last check: in_stock, out_of_stock, blocked, error;
	// "" before the first. Reason is the monitor's reason or evidence.
	Outcome   string     `json:"outcome,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	LastCheck *time.Time `json:"lastCheck,omitempty"`
	// Since is when Outcome's streak began; Streak counts its checks.
	Since  *time.Time `json:"since,omitempty"`
	Streak uint64     `json:"streak"`
	Checks uint64     `json:"checks"`
	// Skipped counts ticks skipped because the previous check still ran.
	Skipped uint64 `json:"skipped"`
	// Proxy the last check went through: host:port or "direct".
	Proxy string `json:"proxy,omitempty"`
	// IntervalSeconds is the configured interval, DelaySeconds the current
	// one after backoff; Backoff is their ratio (1 = no backoff).
	IntervalSeconds float64    `json:"intervalSeconds"`
	DelaySeconds    float64    `json:"delaySeconds"`
	Backoff         float64    `json:"backoff"`
	LastRestock     *time.Time `json:"lastRestock,omitempty"`
}

// SiteTargets sums up one site's targets by their last outcome.
type SiteTargets struct {
	Targets   int            `json:"targets"`
	ByOutcome map[string]int `json:"byOutcome"`
}

// TargetList answers GET /api/admin/targets.
type TargetList struct {
	// Total and BySite count every target of this node; ?site= and
	// ?outcome= narrow Targets only.
	Total   int                    `json:"total"`
	BySite  map[string]SiteTargets `json:"bySite"`
	Targets []Target               `json:"targets"`
}

// TargetSource lists the monitored targets (the engine, through an
// adapter in the node).
type TargetSource interface {
	Targets() []Target
}

// targets serves /api/admin/targets; parts[0] is "targets".
func (a *API) targets(ctx *fasthttp.RequestCtx, parts []string) {
	switch {
	case a.deps.Targets == nil:
		writeError(ctx, fasthttp.StatusNotFound, "the monitor engine does not run on this node")
	case len(parts) != 1:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	case !ctx.IsGet():
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	default:
		site, outcome := string(ctx.QueryArgs().Peek("site")), string(ctx.QueryArgs().Peek("outcome"))
		list := TargetList{BySite: map[string]SiteTargets{}, Targets: []Target{}}
		for _, t := range a.deps.Targets.Targets() {
			list.Total++
			s := list.BySite[t.Site]
			if s.ByOutcome == nil {
				s.ByOutcome = map[string]int{}
			}
			s.Targets++
			s.ByOutcome[outcomeOrNone(t.Outcome)]++
			list.BySite[t.Site] = s
			if (site == "" || site == t.Site) && (outcome == "" || outcome == outcomeOrNone(t.Outcome)) {
				list.Targets = append(list.Targets, t)
			}
		}
		writeJSON(ctx, fasthttp.StatusOK, list)
	}
}

func outcomeOrNone(o string) string {
	if o == "" {
		return "none"
	}
	return o
}

// Targets lists the monitored targets of the node (GET /api/admin/targets).
func (c *Client) Targets(ctx context.Context) (TargetList, error) {
	var out TargetList
	return out, c.do(ctx, http.MethodGet, "/api/admin/targets", nil, &out)
}
