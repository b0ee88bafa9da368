package api

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
)

// BenchmarkStreamHTTP: one ping published and read back by an SSE client
// over TCP, through fasthttp's stream writer.
func BenchmarkStreamHTTP(b *testing.B) {
	hub := sse.New(sse.Config{FirstID: 1, Logger: quietLog})
	st := openStore(b)
	sub, _ := mustCreate(b, st, keys.Options{Kind: keys.KindSubscriber})
	a := New(Config{}, Deps{Publisher: hub, Keys: st, SSE: hub, Metrics: metrics.NewSet()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	tr := &http.Transport{DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/api/events/stream?key=" + sub)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("open: %v", err)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	if hub.Stats().Subscribers != 1 {
		// Subscribe happens before the 200 is written.
		b.Fatal("not subscribed")
	}
	m := ping("amazon", "USA", 1)
	b.ReportAllocs()
	for b.Loop() {
		hub.Publish(m)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(line, []byte("data: ")) {
				break
			}
		}
	}
	b.StopTimer()
	resp.Body.Close()
	if err := a.Shutdown(b.Context()); err != nil {
		b.Fatal(err)
	}
	<-done
	tr.CloseIdleConnections()
}
