package console

import (
	"math"
	"sort"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/engine"
)

type monitorsView struct {
	page
	Running bool // an engine runs on this node
	Targets []engine.TargetStatus
	Sites   []siteRow
	Proxies []proxyRow
	Blocked []blockedRow // per site and proxy
	Pings   []recentPing
}

// siteRow is one site's checks since start, by outcome.
type siteRow struct {
	Site                             string
	Checks, Blocked, Errors, InStock float64
	BlockedRate                      float64 // NaN before the first check
}

// proxyRow is one proxy's requests since start.
type proxyRow struct {
	Proxy                     string
	Requests, Errors, Benched float64
	ErrorRate                 float64
}

func (c *Console) monitorsPage(ctx *fasthttp.RequestCtx, sess *session) {
	v := monitorsView{page: page{Title: "Monitors", Nav: "monitors", CSRF: sess.csrf}, Pings: c.recent()}
	if m := c.deps.Monitors; m != nil {
		v.Running = true
		if r, ok := m.(interface{ Running() bool }); ok {
			v.Running = r.Running()
		}
		v.Targets = m.Status()
	}
	r, err := c.newSampler().read()
	if err != nil {
		ctx.Error("metrics unreadable: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	v.Sites, v.Proxies, v.Blocked = siteRows(r), proxyRows(r), blockedRows(r)
	c.render(ctx, fasthttp.StatusOK, "monitors", v)
}

func siteRows(r reading) []siteRow {
	bySite := map[string]*siteRow{}
	for k, n := range r.by2("stellarfeed_checks_total", "site", "outcome") {
		row := bySite[k[0]]
		if row == nil {
			row = &siteRow{Site: k[0]}
			bySite[k[0]] = row
		}
		row.Checks += n
		switch k[1] {
		case "blocked":
			row.Blocked += n
		case "error":
			row.Errors += n
		case "in_stock":
			row.InStock += n
		}
	}
	out := make([]siteRow, 0, len(bySite))
	for _, row := range bySite {
		row.BlockedRate = ratio(row.Blocked, row.Checks)
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

func proxyRows(r reading) []proxyRow {
	req := r.by("stellarfeed_proxy_requests_total", "proxy")
	errs := r.by("stellarfeed_proxy_errors_total", "proxy")
	benched := r.by("stellarfeed_proxy_benched_total", "proxy")
	out := make([]proxyRow, 0, len(req))
	for p, n := range req {
		out = append(out, proxyRow{Proxy: p, Requests: n, Errors: errs[p], Benched: benched[p], ErrorRate: ratio(errs[p], n)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proxy < out[j].Proxy })
	return out
}

// blockedRow is one site's checks through one proxy.
type blockedRow struct {
	Site, Proxy     string
	Checks, Blocked float64
	BlockedRate     float64
}

func blockedRows(r reading) []blockedRow {
	bySP := map[[2]string]*blockedRow{}
	for _, s := range r {
		if s.name != "stellarfeed_proxy_checks_total" {
			continue
		}
		k := [2]string{s.labels["site"], s.labels["proxy"]}
		row := bySP[k]
		if row == nil {
			row = &blockedRow{Site: k[0], Proxy: k[1]}
			bySP[k] = row
		}
		row.Checks += s.value
		if s.labels["outcome"] == "blocked" {
			row.Blocked += s.value
		}
	}
	out := make([]blockedRow, 0, len(bySP))
	for _, row := range bySP {
		if row.Checks == 0 {
			continue
		}
		row.BlockedRate = ratio(row.Blocked, row.Checks)
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Site != out[j].Site {
			return out[i].Site < out[j].Site
		}
		return out[i].Proxy < out[j].Proxy
	})
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
