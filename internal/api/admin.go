package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// KeyRequest is the body of POST /api/admin/keys.
type KeyRequest struct {
	Kind  string `json:"kind"` // subscriber (default), ingest, admin
	Label string `json:"label,omitempty"`
	// Expires is an RFC 3339 time, or a Go duration from now ("720h");
	// empty or "never" for no expiry.
	Expires      string   `json:"expires,omitempty"`
	Disabled     bool     `json:"disabled,omitempty"`
	MaxConns     int      `json:"maxConns,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	MaxIPsPerDay int      `json:"maxIPsPerDay,omitempty"`
	MonthlyQuota int64    `json:"monthlyQuota,omitempty"`
	RatePerSec   float64  `json:"ratePerSec,omitempty"`
	Slug         string   `json:"slug,omitempty"`
	// Feed the key belongs to (default: the default feed; for an admin
	// token: every feed).
	Feed string `json:"feed,omitempty"`
}

// KeyPatch is the body of PATCH /api/admin/keys/{id}: absent (or null)
// fields stay as they are; "expires": "" or "never" removes the expiry.
type KeyPatch struct {
	Label        *string   `json:"label,omitempty"`
	Expires      *string   `json:"expires,omitempty"`
	Disabled     *bool     `json:"disabled,omitempty"`
	MaxConns     *int      `json:"maxConns,omitempty"`
	Scopes       *[]string `json:"scopes,omitempty"`
	MaxIPsPerDay *int      `json:"maxIPsPerDay,omitempty"`
	MonthlyQuota *int64    `json:"monthlyQuota,omitempty"`
	RatePerSec   *float64  `json:"ratePerSec,omitempty"`
	Slug         *string   `json:"slug,omitempty"`
}

// CreatedKey answers create and rotate: the secret, shown this once.
type CreatedKey struct {
	Secret string   `json:"secret"`
	Key    keys.Key `json:"key"`
}

// KeyInfo answers GET, PATCH and DELETE of one key.
type KeyInfo struct {
	Key   keys.Key    `json:"key"`
	Usage *keys.Usage `json:"usage,omitempty"`
}

// KeyList answers GET /api/admin/keys.
type KeyList struct {
	Keys  []keys.Key            `json:"keys"`
	Usage map[string]keys.Usage `json:"usage,omitempty"` // by key ID
}

// parseExpiry reads an expiry as an RFC 3339 time or a duration from now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "never":
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, &keys.InvalidError{Field: "expires", Message: fmt.Sprintf("%q is neither an RFC 3339 time nor a positive duration such as \"720h\"", s)}
}

// Options converts the request into key store options; the CLI uses it
// when it owns the database itself.
func (r *KeyRequest) Options(now time.Time) (keys.Options, error) {
	kind, err := keys.ParseKind(r.Kind)
	if err != nil {
		return keys.Options{}, err
	}
	exp, err := parseExpiry(r.Expires, now)
	if err != nil {
		return keys.Options{}, err
	}
	return keys.Options{
		Kind: kind, Label: r.Label, Expires: exp, Disabled: r.Disabled, MaxConns: r.MaxConns,
		Scopes: r.Scopes, MaxIPsPerDay: r.MaxIPsPerDay, MonthlyQuota: r.MonthlyQuota,
		RatePerSec: r.RatePerSec, Slug: r.Slug, Feed: strings.TrimSpace(r.Feed),
	}, nil
}

// Patch converts the request into a key store patch.
func (p *KeyPatch) Patch(now time.Time) (keys.Patch, error) {
	out := keys.Patch{
		Label: p.Label, Disabled: p.Disabled, MaxConns: p.MaxConns, Scopes: p.Scopes,
		MaxIPsPerDay: p.MaxIPsPerDay, MonthlyQuota: p.MonthlyQuota, RatePerSec: p.RatePerSec, Slug: p.Slug,
	}
	if p.Expires != nil {
		exp, err := parseExpiry(*p.Expires, now)
		if err != nil {
			return keys.Patch{}, err
		}
		out.Expires = &exp
	}
	return out, nil
}

// LookupRequest is the body of POST /api/admin/keys/lookup: a secret is
// sent in a body, never in a URL, which ends up in access logs.
type LookupRequest struct {
	Secret string `json:"secret"`
}

// admin serves /api/admin/...; rest is the path after that prefix.
func (a *API) admin(ctx *fasthttp.RequestCtx, rest []byte) {
	a.m.admin.Inc()
	admin, err := a.deps.Keys.Check(bearer(ctx), keys.KindAdmin, a.now())
	if err != nil {
		writeAuthError(ctx, err)
		return
	}
	// An admin token of a feed sees and changes that feed's keys only;
	// other feeds' keys are "not found" to it.
	scope := admin.Feed
	parts := strings.Split(strings.Trim(string(rest), "/"), "/")
	switch {
	case parts[0] == "connections":
		a.connections(ctx, parts, scope)
	case parts[0] == "feeds":
		a.feeds(ctx, parts, scope)
	case parts[0] == "usage" && len(parts) == 1:
		a.usage(ctx, scope)
	case parts[0] == "targets":
		a.targets(ctx, parts)
	case parts[0] == "keys" && len(parts) <= 3:
		a.adminKeys(ctx, parts, scope)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	}
}

// adminKeys serves /api/admin/keys[/{id}[/rotate]] and /api/admin/keys/lookup.
// Keys are named by ID in URLs; a secret goes through lookup.
func (a *API) adminKeys(ctx *fasthttp.RequestCtx, parts []string, scope string) {
	pattern, id := keyRouteOf(parts)
	route, ok := keyRoutes[pattern]
	if !ok {
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	if pattern == "keys/{id}" && keys.IsSecret(id) {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "a secret does not belong in a URL: name the key by its ID, or POST the secret to /api/admin/keys/lookup"})
		return
	}
	handle, ok := route.methods[string(ctx.Method())]
	if !ok {
		methodNotAllowed(ctx, route.allow)
		return
	}
	res, ok := handle(ctx, StoreService{Keys: a.deps.Keys, Now: a.now, Feed: scope}, id)
	if !ok {
		return
	}
	if res.err != nil {
		a.storeError(ctx, res.err)
		return
	}
	if res.log != "" {
		k := keyOf(res.out)
		a.log.Info(res.log, "id", k.ID, "kind", k.Kind, "label", k.Label)
	}
	writeJSON(ctx, cmp.Or(res.status, fasthttp.StatusOK), res.out)
}

// keyRouteOf names the route of an /api/admin/keys path ("" for none) and
// the key ID in it.
func keyRouteOf(parts []string) (pattern, id string) {
	switch {
	case len(parts) == 1:
		return "keys", ""
	case len(parts) == 2 && parts[1] == "lookup":
		return "keys/lookup", ""
	case len(parts) == 2:
		return "keys/{id}", parts[1]
	case len(parts) == 3 && parts[2] == "rotate":
		return "keys/{id}/rotate", parts[1]
	}
	return "", ""
}

// keyRoutes is the admin keys routing table: the handler of each method on
// each route, and the Allow header a 405 answers with. It is never
// written after init.
var keyRoutes = map[string]keyRoute{
	"keys": {allow: "GET, POST", methods: map[string]keyHandler{
		fasthttp.MethodGet:  listKeys,
		fasthttp.MethodPost: createKey,
	}},
	"keys/lookup": {allow: "POST", methods: map[string]keyHandler{
		fasthttp.MethodPost: lookupKey,
	}},
	"keys/{id}": {allow: "GET, PATCH, DELETE", methods: map[string]keyHandler{
		fasthttp.MethodGet:    getKey,
		fasthttp.MethodPatch:  updateKey,
		fasthttp.MethodDelete: revokeKey,
	}},
	"keys/{id}/rotate": {allow: "POST", methods: map[string]keyHandler{
		fasthttp.MethodPost: rotateKey,
	}},
}

type keyRoute struct {
	allow   string
	methods map[string]keyHandler
}

// keyHandler answers one method of one keys route for the admin token's
// feed (svc.Feed); id is the key ID of the path, if any. ok is false when
// the handler has already answered (a bad body).
type keyHandler func(ctx *fasthttp.RequestCtx, svc StoreService, id string) (res keyResult, ok bool)

// keyResult is what adminKeys writes: out with status (200 when zero), or
// err through storeError; log, when set, is logged with the key.
type keyResult struct {
	out    any
	status int
	log    string
	err    error
}

func listKeys(ctx *fasthttp.RequestCtx, svc StoreService, _ string) (keyResult, bool) {
	out, err := svc.List(ctx)
	return keyResult{out: out, err: err}, true
}

func createKey(ctx *fasthttp.RequestCtx, svc StoreService, _ string) (keyResult, bool) {
	var req KeyRequest
	if !decodeBody(ctx, &req) {
		return keyResult{}, false
	}
	if svc.Feed != "" && req.Feed != "" && req.Feed != svc.Feed {
		writeJSON(ctx, fasthttp.StatusForbidden, errorBody{Error: "this admin token manages feed " + svc.Feed + " only", Field: "feed"})
		return keyResult{}, false
	}
	out, err := svc.Create(ctx, req)
	return keyResult{out: out, status: fasthttp.StatusCreated, log: "key created", err: err}, true
}

func lookupKey(ctx *fasthttp.RequestCtx, svc StoreService, _ string) (keyResult, bool) {
	var req LookupRequest
	if !decodeBody(ctx, &req) {
		return keyResult{}, false
	}
	if !keys.IsSecret(req.Secret) {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: "secret: not a key secret (sfk_, sfi_ or sfa_ followed by 32 characters)", Field: "secret"})
		return keyResult{}, false
	}
	out, err := svc.Get(ctx, req.Secret)
	return keyResult{out: out, err: err}, true
}

func getKey(ctx *fasthttp.RequestCtx, svc StoreService, id string) (keyResult, bool) {
	out, err := svc.Get(ctx, id)
	return keyResult{out: out, err: err}, true
}

func updateKey(ctx *fasthttp.RequestCtx, svc StoreService, id string) (keyResult, bool) {
	var req KeyPatch
	if !decodeBody(ctx, &req) {
		return keyResult{}, false
	}
	out, err := svc.Update(ctx, id, req)
	return keyResult{out: out, log: "key updated", err: err}, true
}

func revokeKey(ctx *fasthttp.RequestCtx, svc StoreService, id string) (keyResult, bool) {
	out, err := svc.Revoke(ctx, id)
	return keyResult{out: out, log: "key revoked", err: err}, true
}

func rotateKey(ctx *fasthttp.RequestCtx, svc StoreService, id string) (keyResult, bool) {
	out, err := svc.Rotate(ctx, id)
	return keyResult{out: out, status: fasthttp.StatusCreated, log: "key rotated", err: err}, true
}

// keyOf is the key an answer is about.
func keyOf(v any) keys.Key {
	switch v := v.(type) {
	case CreatedKey:
		return v.Key
	case KeyInfo:
		return v.Key
	}
	return keys.Key{}
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
}

// decodeBody reads a strict JSON body into v, answering 415 or 400 itself.
func decodeBody(ctx *fasthttp.RequestCtx, v any) bool {
	if !isJSON(ctx) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid JSON body: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	if dec.More() {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid JSON body: data after the object")
		return false
	}
	return true
}

// storeError maps key store errors to statuses: invalid settings 400 with
// the field, unknown ID 404, conflicts 409, a data directory that cannot be
// written (disk full, read-only) 507 with the cause, anything else 500.
func (a *API) storeError(ctx *fasthttp.RequestCtx, err error) {
	var ie *keys.InvalidError
	switch {
	case errors.As(err, &ie):
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: ie.Error(), Field: ie.Field})
	case errors.Is(err, keys.ErrNotFound):
		what := "key"
		if bytes.HasPrefix(ctx.Path(), []byte("/api/admin/feeds")) {
			what = "feed"
		}
		writeError(ctx, fasthttp.StatusNotFound, what+" not found")
	case errors.Is(err, keys.ErrConflict):
		writeError(ctx, fasthttp.StatusConflict, err.Error())
	case errors.Is(err, keys.ErrUnwritable):
		// The node logs the fault once when it starts; the operator
		// reads the cause here, so no log line per refused request.
		writeError(ctx, fasthttp.StatusInsufficientStorage, err.Error()+" (keys cannot change until the data directory is writable again; broadcasting continues)")
	default:
		a.log.Error("admin request failed", "path", string(ctx.Path()), "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
	}
}
