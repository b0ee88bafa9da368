package fetch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// One check: take a session, wait for the proxy's rate limit, fetch, and
// report the outcome (Blocked would drop the session's cookies and bench
// its proxy).
func ExampleFetcher_Session() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "in stock, for "+r.Header.Get("Accept-Language"))
	}))
	defer srv.Close()

	f, err := fetch.New(fetch.Options{Timeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer f.CloseIdleConnections()
	s, err := f.Session(time.Now())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := s.Wait(ctx); err != nil {
		panic(err)
	}
	resp, err := s.Do(ctx, &monitors.Request{URL: srv.URL + "/dp/B0CHX1W1XY", Region: "DE"}, nil)
	if err != nil {
		panic(err)
	}
	s.Report(monitors.InStock)
	fmt.Println(s.Proxy(), resp.Status, string(resp.Body))
	// Output: direct 200 in stock, for de-DE,de;q=0.9,en;q=0.8
}
