package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// fast makes one request (no redirects) over fasthttp: plain http://, and
// everything with ClientFastHTTP. The user agent is the session's; there
// are no cookies.
func (s Session) fast(deadline time.Time, method, target string, r *monitors.Request) (*monitors.Response, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(target)
	req.Header.SetMethod(method)
	setFastHeaders(&req.Header, r, s.id.userAgent)
	if err := s.x.fast.DoDeadline(req, resp, deadline); err != nil {
		return nil, err
	}
	status := resp.StatusCode()
	out := &monitors.Response{Status: status, Header: make(http.Header, 8), URL: target}
	for k, v := range resp.Header.All() {
		out.Header.Add(string(k), string(v))
	}
	if isRedirect(status) && out.Header.Get("Location") != "" {
		out.Body = []byte{}
		return out, nil
	}
	body, err := resp.BodyUncompressedWithLimit(s.f.maxBody)
	if err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return nil, fmt.Errorf("body larger than %d bytes: %w", s.f.maxBody, err)
		}
		return nil, fmt.Errorf("decode %q body: %w", resp.Header.ContentEncoding(), err)
	}
	out.Body = bytes.Clone(body)
	if out.Body == nil {
		out.Body = []byte{}
	}
	return out, nil
}
