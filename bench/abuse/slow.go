package abuse

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

func slowChecks() []Check {
	return []Check{{Name: "slow/consumers", Family: "slow",
		About: "clients that never read (tiny receive buffer) and send 125-byte pings while large pings are published: each is cut as a slow consumer, the canary keeps up",
		Run:   func(ctx context.Context, e *Env) (string, error) { return e.slowConsumers(ctx) }}}
}

// largePing is a ~3 KB ping: a title, an image URL and an offerId at their
// maximum lengths.
func largePing(seq int) []byte {
	return fmt.Appendf(nil, `{"site":"amazon","region":"USA","sku":"B0LARGE001","offerId":"large-%d-%s","details":{"productTitle":"%s","productImage":"https://img.example/%s.jpg","productPrice":"9.99"}}`,
		seq, strings.Repeat("o", 400), strings.Repeat("T", 500), strings.Repeat("i", 2000))
}

func (e *Env) slowConsumers(ctx context.Context) (string, error) {
	base, err := e.metrics(ctx)
	if err != nil {
		return "", err
	}
	cut0, _ := base.Get(MetricSlowCut)
	n := e.Scale.SlowConsumers
	conns := make([]net.Conn, 0, n)
	defer closeAll(conns)
	for range n {
		c, _, err := e.dialAttacker(ctx, "", 2048)
		if err != nil {
			return "", fmt.Errorf("slow consumer: %w", err)
		}
		conns = append(conns, c)
	}
	// They also ask for pongs they will never read.
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	big := frame(true, 0, 0x9, bytes.Repeat([]byte("s"), 125), true)
	for _, c := range conns {
		wg.Go(func() { writeEvery(sctx, c, big, 100*time.Millisecond) })
	}
	// Publish large pings in batches until every slow consumer is cut or
	// the bytes are spent; then wait for the write timeout to cut the rest.
	start := time.Now()
	published, seq := 0, 0
	var cut float64
	deadline := start.Add(e.Opts.WriteTimeout + e.Scale.Settle)
	for time.Now().Before(deadline) {
		m, err := e.metrics(ctx)
		if err != nil {
			return "", err
		}
		c, _ := m.Get(MetricSlowCut)
		if cut = c - cut0; cut >= float64(n) {
			break
		}
		if published < e.Scale.SlowBytes {
			var b []byte
			for range 100 {
				seq++
				if b == nil {
					b = append(b, '[')
				} else {
					b = append(b, ',')
				}
				b = append(b, largePing(seq)...)
			}
			b = append(b, ']')
			code, resp, err := e.api.do(ctx, http.MethodPost, "/api/pings", e.Target.IngestToken, "application/json", b)
			if err != nil || code/100 != 2 {
				return "", fmt.Errorf("publish large pings: %d %s %v", code, bytes.TrimSpace(resp), err)
			}
			published += len(b) - 2
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	fig := fmt.Sprintf("%d slow consumers, %d large pings (%.1f MB) published, %.0f cut as slow in %s",
		n, seq, float64(published)/1e6, cut, took.Round(100*time.Millisecond))
	if cut < float64(n) {
		return fig, fmt.Errorf("only %.0f of %d slow consumers cut within %s", cut, n, e.Opts.WriteTimeout+e.Scale.Settle)
	}
	return fig, nil
}
