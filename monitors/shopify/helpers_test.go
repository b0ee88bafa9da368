package shopify

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// routeFetcher answers by exact URL; anything else is a 404 page.
type routeFetcher struct {
	mu     sync.Mutex
	routes map[string]*monitors.Response
	errs   map[string]error
	urls   []string
}

func (f *routeFetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	f.mu.Lock()
	f.urls = append(f.urls, req.URL)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.errs[req.URL]; err != nil {
		return nil, err
	}
	if r, ok := f.routes[req.URL]; ok {
		c := *r
		if c.URL == "" {
			c.URL = req.URL
		}
		return &c, nil
	}
	return &monitors.Response{Status: 404, Body: []byte("<html><title>404 Not Found</title></html>"), URL: req.URL}, nil
}

func ok200(body []byte) *monitors.Response { return &monitors.Response{Status: 200, Body: body} }
