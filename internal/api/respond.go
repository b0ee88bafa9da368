package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// errorBody is every 4xx/5xx JSON body: {"error": "..."}, with the field
// at fault when there is one.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// Only our own response types get here; they always encode.
		status, data = fasthttp.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(data, '\n'))
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, errorBody{Error: msg})
}

// writeAuthError answers a refused credential with the status it carries
// (401 unknown/revoked, 429 rate or quota).
func writeAuthError(ctx *fasthttp.RequestCtx, err error) int {
	status, msg := fasthttp.StatusUnauthorized, "unauthorized"
	var ae *keys.AuthError
	if errors.As(err, &ae) {
		status, msg = ae.Status, ae.Reason
	}
	switch status {
	case fasthttp.StatusUnauthorized:
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="stellarfeed"`)
	case fasthttp.StatusTooManyRequests:
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeError(ctx, status, msg)
	return status
}

// bearer returns the token of an "Authorization: Bearer <token>" header,
// or "" (which the store refuses as missing).
func bearer(ctx *fasthttp.RequestCtx) string {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	scheme, token, ok := bytes.Cut(bytes.TrimSpace(h), []byte{' '})
	if !ok || !bytes.EqualFold(scheme, []byte("Bearer")) {
		return ""
	}
	// One small allocation; the store neither keeps nor logs the string.
	return string(bytes.TrimSpace(token))
}

// isJSON accepts application/json with optional parameters (charset).
func isJSON(ctx *fasthttp.RequestCtx) bool {
	ct := ctx.Request.Header.ContentType()
	mt, _, _ := bytes.Cut(ct, []byte{';'})
	if bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/json")) {
		return true
	}
	// Slow path for unusual but valid spellings.
	t, _, err := mime.ParseMediaType(string(ct))
	return err == nil && strings.EqualFold(t, "application/json")
}
