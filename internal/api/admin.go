package api

import (
	"bytes"
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

// admin serves /api/admin/...; rest is the path after that prefix.
func (a *API) admin(ctx *fasthttp.RequestCtx, rest []byte) {
	a.m.admin.Inc()
	now := a.now()
	admin, err := a.deps.Keys.Check(bearer(ctx), keys.KindAdmin, now)
	if err != nil {
		writeAuthError(ctx, err)
		return
	}
	// An admin token of a feed sees and changes that feed's keys only;
	// other feeds' keys are "not found" to it.
	scope := admin.Feed
	parts := strings.Split(strings.Trim(string(rest), "/"), "/")
	switch parts[0] {
	case "connections":
		a.connections(ctx, parts, scope)
		return
	case "feeds":
		a.feeds(ctx, parts, scope)
		return
	case "usage":
		if len(parts) == 1 {
			a.usage(ctx, scope)
			return
		}
	}
	if parts[0] == "targets" {
		a.targets(ctx, parts)
		return
	}
	if parts[0] != "keys" || len(parts) > 3 {
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	method := string(ctx.Method())
	if len(parts) >= 2 && scope != "" {
		if k, err := a.deps.Keys.Get(parts[1]); err != nil || !inScope(&k, scope) {
			writeError(ctx, fasthttp.StatusNotFound, "key not found")
			return
		}
	}
	switch {
	case len(parts) == 1 && method == fasthttp.MethodGet:
		list := KeyList{Keys: []keys.Key{}, Usage: map[string]keys.Usage{}}
		for _, k := range a.deps.Keys.List() {
			if inScope(&k, scope) {
				list.Keys = append(list.Keys, k)
			}
		}
		for _, k := range list.Keys {
			if u, err := a.deps.Keys.Usage(k.ID); err == nil {
				list.Usage[k.ID] = u
			}
		}
		writeJSON(ctx, fasthttp.StatusOK, list)
	case len(parts) == 1 && method == fasthttp.MethodPost:
		var req KeyRequest
		if !decodeBody(ctx, &req) {
			return
		}
		o, err := req.Options(now)
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		if scope != "" {
			if o.Feed != "" && o.Feed != scope {
				writeJSON(ctx, fasthttp.StatusForbidden, errorBody{Error: "this admin token manages feed " + scope + " only", Field: "feed"})
				return
			}
			o.Feed = scope
		}
		secret, k, err := a.deps.Keys.Create(o)
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("key created", "id", k.ID, "kind", k.Kind, "label", k.Label)
		writeJSON(ctx, fasthttp.StatusCreated, CreatedKey{Secret: secret, Key: k})
	case len(parts) == 1:
		ctx.Response.Header.Set("Allow", "GET, POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	case len(parts) == 2 && method == fasthttp.MethodGet:
		k, err := a.deps.Keys.Get(parts[1])
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		info := KeyInfo{Key: k}
		if u, err := a.deps.Keys.Usage(k.ID); err == nil {
			info.Usage = &u
		}
		writeJSON(ctx, fasthttp.StatusOK, info)
	case len(parts) == 2 && method == fasthttp.MethodPatch:
		var req KeyPatch
		if !decodeBody(ctx, &req) {
			return
		}
		p, err := req.Patch(now)
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		k, err := a.deps.Keys.Update(parts[1], p)
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("key updated", "id", k.ID)
		writeJSON(ctx, fasthttp.StatusOK, KeyInfo{Key: k})
	case len(parts) == 2 && method == fasthttp.MethodDelete:
		// By ID only: a secret in a URL ends up in access logs.
		if _, err := a.deps.Keys.Get(parts[1]); err != nil {
			a.storeError(ctx, err)
			return
		}
		k, err := a.deps.Keys.Revoke(parts[1])
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("key revoked", "id", k.ID)
		writeJSON(ctx, fasthttp.StatusOK, KeyInfo{Key: k})
	case len(parts) == 2:
		ctx.Response.Header.Set("Allow", "GET, PATCH, DELETE")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	case len(parts) == 3 && parts[2] == "rotate" && method == fasthttp.MethodPost:
		secret, k, err := a.deps.Keys.Rotate(parts[1])
		if err != nil {
			a.storeError(ctx, err)
			return
		}
		a.log.Info("key rotated", "id", k.ID)
		writeJSON(ctx, fasthttp.StatusCreated, CreatedKey{Secret: secret, Key: k})
	case len(parts) == 3 && parts[2] == "rotate":
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	}
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
