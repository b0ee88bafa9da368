package broadcast

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/stellarfeed/stellarfeed/stellar"
)

// request is what the handshake's request line says: the endpoint, the
// key and the optional site/region filters.
type request struct {
	realtime bool // path /ws: the realtime lifecycle endpoint
	unixMs   bool // ?timestamp=unix: /ws envelope timestamps in unix ms
	key      string
	sites    []string
	regions  []string
}

// Limits on the request line, far above any real Stellar key or filter:
// they keep a hostile request from making us build big lists.
const (
	maxKeyLen     = 512
	maxFilterList = 32
)

// parseRequestURI reads "/?key=K&site=a,b&region=USA,CA" (also
// "/stellar?..." and the realtime "/ws?..."). It is a pure function of the
// bytes; errors are *AuthError values carrying the HTTP status to answer
// with. req.realtime is set as soon as the path is known, even with an
// error: a refused /ws request is answered with a close frame, not HTTP.
func parseRequestURI(uri []byte) (request, error) {
	var req request
	path, query, _ := bytes.Cut(uri, []byte{'?'})
	switch string(path) {
	case "/", "/stellar":
	case "/ws":
		req.realtime = true
	default:
		return req, &AuthError{Status: http.StatusNotFound, Reason: "unknown path"}
	}
	for len(query) > 0 {
		var pair []byte
		pair, query, _ = bytes.Cut(query, []byte{'&'})
		k, v, _ := bytes.Cut(pair, []byte{'='})
		switch string(k) { // no allocation: the compiler compares in place
		case "timestamp":
			switch string(v) {
			case "unix":
				req.unixMs = true
			case "iso":
			default:
				return req, &AuthError{Status: http.StatusBadRequest, Reason: "timestamp: want iso or unix"}
			}
		case "key", "token": // ?token= as the webhook relay's clients send it
			if len(v) > maxKeyLen {
				return req, &AuthError{Status: http.StatusBadRequest, Reason: "key: too long"}
			}
			s, err := unescape(v)
			if err != nil {
				return req, &AuthError{Status: http.StatusBadRequest, Reason: "key: bad escape"}
			}
			req.key = s
		case "site":
			list, err := splitList(v, strings.ToLower)
			if err != nil {
				return req, &AuthError{Status: http.StatusBadRequest, Reason: "site: " + err.Error()}
			}
			req.sites = append(req.sites, list...)
		case "region":
			list, err := splitList(v, strings.ToUpper)
			if err != nil {
				return req, &AuthError{Status: http.StatusBadRequest, Reason: "region: " + err.Error()}
			}
			for _, r := range list {
				if !stellar.IsRegion(r) {
					return req, &AuthError{Status: http.StatusBadRequest, Reason: "region: unknown region " + r}
				}
			}
			req.regions = append(req.regions, list...)
		}
		if len(req.sites) > maxFilterList || len(req.regions) > maxFilterList {
			return req, &AuthError{Status: http.StatusBadRequest, Reason: "too many filter values"}
		}
	}
	if req.key == "" {
		return req, ErrMissingKey
	}
	return req, nil
}

func unescape(v []byte) (string, error) {
	if bytes.IndexByte(v, '%') < 0 && bytes.IndexByte(v, '+') < 0 {
		return string(v), nil
	}
	return url.QueryUnescape(string(v))
}

type listError string

func (e listError) Error() string { return string(e) }

func splitList(v []byte, norm func(string) string) ([]string, error) {
	s, err := unescape(v)
	if err != nil {
		return nil, listError("bad escape")
	}
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(part) > 64 {
			return nil, listError("value too long")
		}
		out = append(out, norm(part))
		if len(out) > maxFilterList {
			return nil, listError("too many values")
		}
	}
	return out, nil
}
