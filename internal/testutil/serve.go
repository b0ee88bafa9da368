package testutil

import (
	"context"
	"net"
	"testing"
	"time"
)

// Server is what Serve runs: an *http.Server, the simulator, any server
// that serves a listener until Shutdown.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve runs srv on a fresh 127.0.0.1 port until the test ends (then shuts
// it down, waiting up to 5 s) and returns its base URL, http://host:port.
func Serve(tb testing.TB, srv Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}
