package fetch

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// BenchmarkBrowserFetch: requests/s of the browser client over HTTP/2
// (Chrome's ClientHello, the frame writer, cookies, gzip decoding) against
// a local net/http server sharing the cores; one op is one request.
//
//	go test -run '^$' -bench BrowserFetch -benchtime 3s ./engine/fetch/
func BenchmarkBrowserFetch(b *testing.B) {
	cert, roots := selfSigned(b, shopHost)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session-id", Value: "s1"})
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	f, err := New(Options{Timeout: 5 * time.Second, TLS: &TLSOptions{RootCAs: roots}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.CloseIdleConnections()
	dialTo(f, srv.Listener.Addr().String())
	req := &monitors.Request{URL: "https://" + shopHost + "/dp/B0", Region: "DE"}
	b.ReportAllocs()
	b.SetParallelism(16)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := f.Session(time.Now())
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := s.Do(context.Background(), req, nil)
			if err != nil || resp.Status != 200 {
				b.Error(resp, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
