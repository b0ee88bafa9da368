package monitors

import (
	"context"
	"errors"
	"fmt"
)

// StartCheck opens the Observation a site's Check returns: Outcome Error
// until a page says otherwise, and the Stellar site t's pings carry
// (stellarSite(t)). It returns false, with the reason in the Observation,
// when t is nil or validate rejects it: such a target is never fetched.
func StartCheck(t *Target, stellarSite func(*Target) string, validate func(*Target) error) (Observation, bool) {
	obs := Observation{Outcome: Error}
	if t == nil {
		obs.Reason = "nil target"
		return obs, false
	}
	obs.StellarSite = stellarSite(t)
	if err := validate(t); err != nil {
		obs.Reason = "invalid target: " + err.Error()
		return obs, false
	}
	return obs, true
}

// errNoResponse stands for a Fetcher that returned neither a response nor
// an error.
var errNoResponse = errors.New("no response")

// FetchPage fetches req with f. A transport error, or a Fetcher that
// returns no response at all, comes back as one error naming the URL
// ("fetch <url>: ..."), the reason a Check reports.
func FetchPage(ctx context.Context, f Fetcher, req *Request) (*Response, error) {
	resp, err := f.Fetch(ctx, req)
	if err == nil && resp == nil {
		err = errNoResponse
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", req.URL, err)
	}
	return resp, nil
}
