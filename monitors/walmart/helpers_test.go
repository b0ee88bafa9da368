package walmart

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeFetcher answers every request with resp (or err) and records what
// was asked.
type fakeFetcher struct {
	mu   sync.Mutex
	reqs []monitors.Request
	resp *monitors.Response
	err  error
}

func (f *fakeFetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, *req)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.resp == nil {
		return nil, errors.New("fake: no response configured")
	}
	r := *f.resp
	return &r, nil
}
