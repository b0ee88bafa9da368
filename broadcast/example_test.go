package broadcast_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/stellar"
)

// keys is a toy Authenticator: one fixed key.
type keys struct{}

func (keys) Authenticate(key string, _ netip.Addr) (broadcast.Identity, error) {
	if key != "demo-key" {
		return broadcast.Identity{}, &broadcast.AuthError{Status: 401, Reason: "unknown key"}
	}
	return broadcast.Identity{KeyID: "demo", Label: "demo bot", Scopes: []string{"amazon"}}, nil
}

func Example() {
	srv, err := broadcast.New(broadcast.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, keys{})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, broadcast.ErrServerClosed) {
			panic(err)
		}
	}()

	// A bot subscribes to Amazon USA.
	conn, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/?key=demo-key&site=amazon&region=USA")
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	for srv.Stats().Conns == 0 {
		time.Sleep(time.Millisecond)
	}

	msg, err := stellar.NewMessage(&stellar.Ping{Site: "amazon", Region: "USA", SKU: "B0DGHRT7PS", OfferID: "offer-1"})
	if err != nil {
		panic(err)
	}
	srv.Publish(msg)

	r := bufio.NewReader(conn)
	h, _ := ws.ReadHeader(r)
	payload := make([]byte, h.Length)
	_, _ = io.ReadFull(r, payload)
	fmt.Println(string(payload))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	// Output: {"site":"amazon","region":"USA","sku":"B0DGHRT7PS","offerId":"offer-1"}
}
