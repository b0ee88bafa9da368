package monitors

import (
	"context"
	"errors"
	"testing"
)

func TestStartCheck(t *testing.T) {
	site := func(*Target) string { return "walmart" }
	valid := func(*Target) error { return nil }
	invalid := func(*Target) error { return errors.New("sku: missing") }
	for _, tc := range []struct {
		name     string
		t        *Target
		validate func(*Target) error
		ok       bool
		reason   string
		site     string
	}{
		{"nil", nil, valid, false, "nil target", ""},
		{"invalid", &Target{}, invalid, false, "invalid target: sku: missing", "walmart"},
		{"valid", &Target{}, valid, true, "", "walmart"},
	} {
		obs, ok := StartCheck(tc.t, site, tc.validate)
		if ok != tc.ok || obs.Reason != tc.reason || obs.StellarSite != tc.site || obs.Outcome != Error {
			t.Errorf("%s: ok=%v obs=%+v, want ok=%v reason %q site %q outcome Error", tc.name, ok, obs, tc.ok, tc.reason, tc.site)
		}
	}
}

type fetchFunc func(context.Context, *Request) (*Response, error)

func (f fetchFunc) Fetch(ctx context.Context, r *Request) (*Response, error) { return f(ctx, r) }

func TestFetchPage(t *testing.T) {
	req := &Request{URL: "https://shop.example.com/x"}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		f    fetchFunc
		want string // error text; "" for a response
	}{
		{"error", func(context.Context, *Request) (*Response, error) { return nil, boom }, "fetch https://shop.example.com/x: boom"},
		{"nothing", func(context.Context, *Request) (*Response, error) { return nil, nil }, "fetch https://shop.example.com/x: no response"},
		{"page", func(context.Context, *Request) (*Response, error) { return &Response{Status: 200}, nil }, ""},
	} {
		resp, err := FetchPage(context.Background(), tc.f, req)
		switch {
		case tc.want == "" && (err != nil || resp == nil || resp.Status != 200):
			t.Errorf("%s: resp=%v err=%v, want the response", tc.name, resp, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || resp != nil):
			t.Errorf("%s: resp=%v err=%v, want %q", tc.name, resp, err, tc.want)
		}
		if tc.name == "error" && !errors.Is(err, boom) {
			t.Errorf("error: %v does not wrap the fetcher's error", err)
		}
	}
}
