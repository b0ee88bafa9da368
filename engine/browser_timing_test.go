package engine

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
)

// BenchmarkEngineChecksBrowser is BenchmarkEngineChecks over https:// with
// the browser client (Chrome's ClientHello, HTTP/2, cookies): 1,000
// targets every 20ms against a local net/http TLS server sharing the cores.
//
//	go test -run '^$' -bench EngineChecksBrowser -benchtime 20000x ./engine/
func BenchmarkEngineChecksBrowser(b *testing.B) {
	in := []byte(`<html><title>Widget</title><div id="buybox"><input id="add-to-cart-button"></div></html>`)
	out := []byte(`<html><title>Widget</title><div id="outOfStock">Currently unavailable.</div></html>`)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if strings.HasSuffix(r.URL.Path, "7") {
			w.Write(in)
		} else {
			w.Write(out)
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	benchChecks(b, srv.URL, Options{TLS: &fetch.TLSOptions{RootCAs: roots}})
}
