package console

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

var pageNames = []string{"login", "overview", "keys", "feeds", "monitors"}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"count": fmtCount,
		"since": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return time.Since(t).Round(time.Second).String() + " ago"
		},
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
		},
		"join": strings.Join,
		"pct": func(v float64) string {
			if math.IsNaN(v) {
				return "–"
			}
			return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
		},
		"msf": func(v float64) string {
			if v < 0 {
				return "–"
			}
			return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
		},
		"rate": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// page is what every page's layout needs.
type page struct {
	Title  string
	Nav    string // the current page, for the menu
	CSRF   string // "" on the login page: no session yet
	Notice string
	Error  string
}

func (c *Console) render(ctx *fasthttp.RequestCtx, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, data); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		ctx.Error("internal error rendering the page", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(buf.Bytes())
}

type overviewView struct {
	page
	S Sample
}

func (c *Console) overview(ctx *fasthttp.RequestCtx, sess *session) {
	s, err := c.newSampler().next()
	if err != nil {
		ctx.Error("metrics unreadable: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	c.render(ctx, fasthttp.StatusOK, "overview", overviewView{page: page{Title: "Overview", Nav: "overview", CSRF: sess.csrf}, S: s})
}

type keysView struct {
	page
	Keys    []keyRow
	Conns   []api.Conn
	Created *api.CreatedKey
	URL     string // the Stellar URL of Created
	Webhook bool   // Created belongs to a webhook feed: URL is no Stellar URL
	Form    api.KeyRequest
	Scopes  string
	Feeds   []string // for the create form's feed selector
}

type keyRow struct {
	keys.Key
	State     string
	Usage     keys.Usage
	LiveConns int
}

func (c *Console) keysPage(ctx *fasthttp.RequestCtx, sess *session, created *api.CreatedKey, problem string) {
	v := keysView{page: page{Title: "Keys", Nav: "keys", CSRF: sess.csrf, Error: problem, Notice: string(ctx.QueryArgs().Peek("done"))}, Feeds: c.feedNames(ctx)}
	list, err := c.deps.Keys.List(ctx)
	if err != nil {
		ctx.Error("cannot list keys: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	live := map[string]int{}
	v.Conns = c.deps.Conns.Conns()
	sort.Slice(v.Conns, func(i, j int) bool { return v.Conns[i].Since.Before(v.Conns[j].Since) })
	for _, cn := range v.Conns {
		live[cn.KeyID]++
	}
	now := c.cfg.Now()
	// Newest first: the key just made is on top.
	for i := len(list.Keys) - 1; i >= 0; i-- {
		k := list.Keys[i]
		v.Keys = append(v.Keys, keyRow{Key: k, State: api.KeyState(k, now), Usage: list.Usage[k.ID], LiveConns: live[k.ID]})
	}
	if created != nil {
		v.Created = created
		if created.Key.Kind == keys.KindSubscriber {
			v.URL = stellarURL(c.stellarBase(ctx), created.Secret)
			if fi, err := c.deps.Feeds.GetFeed(ctx, cmp.Or(created.Key.Feed, keys.DefaultFeed)); err == nil {
				v.Webhook = fi.Feed.Webhook()
			}
		}
	}
	status := fasthttp.StatusOK
	if problem != "" {
		status = fasthttp.StatusBadRequest
		v.Form = formRequest(ctx)
		v.Scopes = string(ctx.PostArgs().Peek("scopes"))
	}
	c.render(ctx, status, "keys", v)
}

// stellarBase is the WebSocket URL to show a customer: reached through a
// TLS proxy (deploy/Caddyfile, deploy/nginx.conf route / of the same host
// to the WebSocket port), wss:// on that host; otherwise Config.StellarURL.
func (c *Console) stellarBase(ctx *fasthttp.RequestCtx) string {
	if isHTTPS(ctx) && len(ctx.Host()) > 0 {
		return "wss://" + string(ctx.Host()) + "/"
	}
	if c.cfg.StellarURL != nil {
		return c.cfg.StellarURL()
	}
	return ""
}

func stellarURL(base, secret string) string {
	if base == "" {
		base = "ws://localhost:8080/"
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "key=" + secret
}

// formRequest reads the create form.
func formRequest(ctx *fasthttp.RequestCtx) api.KeyRequest {
	args := ctx.PostArgs()
	num := func(name string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(string(args.Peek(name))))
		return n
	}
	req := api.KeyRequest{
		Kind:         string(args.Peek("kind")),
		Label:        strings.TrimSpace(string(args.Peek("label"))),
		Expires:      strings.TrimSpace(string(args.Peek("expires"))),
		MaxConns:     num("maxConns"),
		MaxIPsPerDay: num("maxIPsPerDay"),
		Feed:         strings.TrimSpace(string(args.Peek("feed"))),
	}
	for _, s := range strings.Split(string(args.Peek("scopes")), ",") {
		if s = strings.TrimSpace(s); s != "" {
			req.Scopes = append(req.Scopes, s)
		}
	}
	return req
}

// numberProblem names a number field that does not read as one: the form
// must not turn "five" into 0 (unlimited) silently.
func numberProblem(ctx *fasthttp.RequestCtx) string {
	for _, name := range []string{"maxConns", "maxIPsPerDay"} {
		v := strings.TrimSpace(string(ctx.PostArgs().Peek(name)))
		if v == "" {
			continue
		}
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Sprintf("%s: %q is not a whole number", name, v)
		}
	}
	return ""
}

func (c *Console) createKey(ctx *fasthttp.RequestCtx, sess *session) {
	if p := numberProblem(ctx); p != "" {
		c.keysPage(ctx, sess, nil, p)
		return
	}
	ck, err := c.deps.Keys.Create(ctx, formRequest(ctx))
	if err != nil {
		c.keysPage(ctx, sess, nil, explain(err))
		return
	}
	c.log.Info("key created in the console", "id", ck.Key.ID, "kind", ck.Key.Kind, "label", ck.Key.Label)
	// Rendered, not redirected: the secret exists only in this answer.
	c.keysPage(ctx, sess, &ck, "")
}

// keyAction serves POST /admin/keys/{id}/{rotate|disable|enable|revoke}.
func (c *Console) keyAction(ctx *fasthttp.RequestCtx, sess *session, rest string) {
	id, action, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	var err error
	switch action {
	case "rotate":
		var ck api.CreatedKey
		if ck, err = c.deps.Keys.Rotate(ctx, id); err == nil {
			c.log.Info("key rotated in the console", "id", id)
			c.keysPage(ctx, sess, &ck, "")
			return
		}
	case "disable", "enable":
		off := action == "disable"
		_, err = c.deps.Keys.Update(ctx, id, api.KeyPatch{Disabled: &off})
	case "revoke":
		_, err = c.deps.Keys.Revoke(ctx, id)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	if err != nil {
		c.keysPage(ctx, sess, nil, explain(err))
		return
	}
	c.log.Info("key changed in the console", "id", id, "action", action)
	redirect(ctx, Prefix+"/keys?done="+action+"d+"+id)
}

func (c *Console) kick(ctx *fasthttp.RequestCtx, rest string) {
	id, err := strconv.ParseUint(strings.TrimSuffix(rest, "/kick"), 10, 64)
	if err != nil || !strings.HasSuffix(rest, "/kick") {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	done := "kicked+connection+" + strconv.FormatUint(id, 10)
	if !c.deps.Conns.Kick(id) {
		done = "connection+" + strconv.FormatUint(id, 10) + "+was+already+gone"
	}
	redirect(ctx, Prefix+"/keys?done="+done)
}

// explain words a key service error for the page.
func explain(err error) string {
	var ie *keys.InvalidError
	switch {
	case errors.As(err, &ie):
		return ie.Error()
	case errors.Is(err, keys.ErrNotFound):
		return "key not found"
	case errors.Is(err, keys.ErrConflict):
		return "conflict: the key is revoked, or the slug is taken"
	}
	return err.Error()
}
