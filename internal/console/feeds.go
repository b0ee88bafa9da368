package console

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

type feedsView struct {
	page
	Feeds []feedRow
	Month string
	// Form is the create form, or the edit form when Edit names a feed.
	Form feedForm
	Edit string
}

type feedRow struct {
	api.FeedInfo
	This keys.FeedMonth // this month's counters
}

// feedForm is the create and edit form as typed: numbers stay text so
// that a bad one is shown back as it was.
type feedForm struct {
	Name, Kind, Label, Slugs                         string
	RequireToken                                     bool
	MaxBytes, MonthlyQuota, RatePerSec, IPRatePerSec string
}

func formOfFeed(f keys.Feed) feedForm {
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return feedForm{
		Name: f.Name, Kind: string(f.Kind), Label: f.Label, Slugs: strings.Join(f.Slugs, ", "), RequireToken: f.RequireToken,
		MaxBytes: strconv.Itoa(f.MaxBytes), MonthlyQuota: strconv.FormatInt(f.MonthlyQuota, 10),
		RatePerSec: num(f.RatePerSec), IPRatePerSec: num(f.IPRatePerSec),
	}
}

func readFeedForm(ctx *fasthttp.RequestCtx) feedForm {
	args := ctx.PostArgs()
	get := func(name string) string { return strings.TrimSpace(string(args.Peek(name))) }
	return feedForm{
		Name: get("name"), Kind: get("kind"), Label: get("label"), Slugs: get("slugs"),
		RequireToken: args.Has("requireToken"),
		MaxBytes:     get("maxBytes"), MonthlyQuota: get("monthlyQuota"), RatePerSec: get("ratePerSec"), IPRatePerSec: get("ipRatePerSec"),
	}
}

// feedNumbers reads the form's numbers; empty ones are nil. A number that
// does not read as one is an error naming its field: the form must not
// turn "lots" into 0 (unlimited) silently.
type feedNumbers struct {
	maxBytes     *int
	monthlyQuota *int64
	rate, ipRate *float64
}

func (f *feedForm) numbers() (feedNumbers, error) {
	var n feedNumbers
	if f.MaxBytes != "" {
		v, err := strconv.Atoi(f.MaxBytes)
		if err != nil {
			return n, fmt.Errorf("maxBytes: %q is not a whole number", f.MaxBytes)
		}
		n.maxBytes = &v
	}
	if f.MonthlyQuota != "" {
		v, err := strconv.ParseInt(f.MonthlyQuota, 10, 64)
		if err != nil {
			return n, fmt.Errorf("monthlyQuota: %q is not a whole number", f.MonthlyQuota)
		}
		n.monthlyQuota = &v
	}
	for _, r := range []struct {
		name, text string
		to         **float64
	}{{"ratePerSec", f.RatePerSec, &n.rate}, {"ipRatePerSec", f.IPRatePerSec, &n.ipRate}} {
		if r.text == "" {
			continue
		}
		v, err := strconv.ParseFloat(r.text, 64)
		if err != nil {
			return n, fmt.Errorf("%s: %q is not a number of requests per second", r.name, r.text)
		}
		*r.to = &v
	}
	return n, nil
}

func (f *feedForm) slugs() []string {
	var out []string
	for _, s := range strings.Split(f.Slugs, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// request is the create request. Empty rates take the defaults of the
// feed's kind (api.FeedRequest.Options).
func (f *feedForm) request() (api.FeedRequest, error) {
	n, err := f.numbers()
	if err != nil {
		return api.FeedRequest{}, err
	}
	req := api.FeedRequest{
		Name: f.Name, Kind: f.Kind, Label: f.Label, Slugs: f.slugs(), RequireToken: f.RequireToken,
		RatePerSec: n.rate, IPRatePerSec: n.ipRate,
	}
	if n.maxBytes != nil {
		req.MaxBytes = *n.maxBytes
	}
	if n.monthlyQuota != nil {
		req.MonthlyQuota = *n.monthlyQuota
	}
	return req, nil
}

// patch is the update: the edit form shows every setting, so each is
// sent; an emptied number means 0 (the default size, no quota, no limit).
func (f *feedForm) patch() (api.FeedPatchRequest, error) {
	n, err := f.numbers()
	if err != nil {
		return api.FeedPatchRequest{}, err
	}
	slugs := f.slugs()
	if slugs == nil {
		slugs = []string{}
	}
	if n.maxBytes == nil {
		n.maxBytes = new(int)
	}
	if n.monthlyQuota == nil {
		n.monthlyQuota = new(int64)
	}
	if n.rate == nil {
		n.rate = new(float64)
	}
	if n.ipRate == nil {
		n.ipRate = new(float64)
	}
	return api.FeedPatchRequest{
		Label: &f.Label, Slugs: &slugs, RequireToken: &f.RequireToken,
		MaxBytes: n.maxBytes, MonthlyQuota: n.monthlyQuota, RatePerSec: n.rate, IPRatePerSec: n.ipRate,
	}, nil
}

// feedsPage renders the Feeds page. form and edit are what to show in the
// form (nil: an empty create form, or the feed named by ?edit=).
func (c *Console) feedsPage(ctx *fasthttp.RequestCtx, sess *session, form *feedForm, edit, problem string) {
	v := feedsView{
		page:  page{Title: "Feeds", Nav: "feeds", CSRF: sess.csrf, Error: problem, Notice: string(ctx.QueryArgs().Peek("done"))},
		Month: keys.MonthKey(c.cfg.Now()),
		Form:  feedForm{Kind: string(keys.FeedWebhook)},
		Edit:  edit,
	}
	list, err := c.deps.Feeds.ListFeeds(ctx)
	if err != nil {
		ctx.Error("cannot list feeds: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	for _, fi := range list.Feeds {
		row := feedRow{FeedInfo: fi}
		if fi.Usage != nil {
			row.This = fi.Usage.Months[v.Month]
		}
		v.Feeds = append(v.Feeds, row)
		if form == nil && edit == "" && string(ctx.QueryArgs().Peek("edit")) == fi.Feed.Name {
			v.Edit, v.Form = fi.Feed.Name, formOfFeed(fi.Feed)
		}
	}
	if form != nil {
		v.Form = *form
	}
	status := fasthttp.StatusOK
	if problem != "" {
		status = fasthttp.StatusBadRequest
	}
	c.render(ctx, status, "feeds", v)
}

func (c *Console) createFeed(ctx *fasthttp.RequestCtx, sess *session) {
	form := readFeedForm(ctx)
	req, err := form.request()
	if err == nil {
		_, err = c.deps.Feeds.CreateFeed(ctx, req)
	}
	if err != nil {
		c.feedsPage(ctx, sess, &form, "", explainFeed(err))
		return
	}
	c.log.Info("feed created in the console", "feed", req.Name, "kind", req.Kind)
	redirect(ctx, Prefix+"/feeds?done=created+feed+"+url.QueryEscape(req.Name))
}

// feedAction serves POST /admin/feeds/{name}/{update|delete}.
func (c *Console) feedAction(ctx *fasthttp.RequestCtx, sess *session, rest string) {
	name, action, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	var err error
	switch action {
	case "update":
		form := readFeedForm(ctx)
		form.Name = name
		var p api.FeedPatchRequest
		if p, err = form.patch(); err == nil {
			_, err = c.deps.Feeds.UpdateFeed(ctx, name, p)
		}
		if err != nil {
			c.feedsPage(ctx, sess, &form, name, explainFeed(err))
			return
		}
	case "delete":
		if _, err = c.deps.Feeds.DeleteFeed(ctx, name); err != nil {
			c.feedsPage(ctx, sess, nil, "", explainFeed(err))
			return
		}
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	c.log.Info("feed changed in the console", "feed", name, "action", action)
	redirect(ctx, Prefix+"/feeds?done="+action+"d+feed+"+url.QueryEscape(name))
}

// explainFeed words a feed service error for the page. The store's
// conflicts already say what is in the way (a slug taken, a live key).
func explainFeed(err error) string {
	var ie *keys.InvalidError
	switch {
	case errors.As(err, &ie):
		return ie.Error()
	case errors.Is(err, keys.ErrNotFound):
		return "feed not found: " + err.Error()
	}
	return err.Error()
}

// feedNames lists the feeds for the Keys page's selector; when the feeds
// cannot be read, the default feed alone is offered.
func (c *Console) feedNames(ctx *fasthttp.RequestCtx) []string {
	list, err := c.deps.Feeds.ListFeeds(ctx)
	if err != nil || len(list.Feeds) == 0 {
		return []string{keys.DefaultFeed}
	}
	names := make([]string, 0, len(list.Feeds))
	for _, fi := range list.Feeds {
		names = append(names, fi.Feed.Name)
	}
	return names
}
