package broadcast_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
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

	msg, err := wire.New(stellar.Rules{}, &stellar.Ping{Site: "amazon", Region: "USA", SKU: "B0DGHRT7PS", OfferID: "offer-1"})
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

// A dashboard on the realtime endpoint: connected message, subscription,
// then pings wrapped in an event envelope.
func Example_realtime() {
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

	conn, br, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws?key=demo-key")
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	// The connected message may arrive with the handshake response: then
	// ws.Dial returns it buffered in br, to be read first.
	rw := struct {
		io.Reader
		io.Writer
	}{conn, conn}
	if br != nil {
		rw.Reader = br
	}
	read := func() map[string]any {
		p, err := wsutil.ReadServerText(rw)
		if err != nil {
			panic(err)
		}
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			panic(err)
		}
		return m
	}
	hello := read()
	fmt.Println(hello["type"], hello["userId"])
	_ = wsutil.WriteClientText(conn, []byte(`{"type":"subscribe","channel":"walmart"}`))
	fmt.Println(read()) // the demo key is scoped to amazon
	_ = wsutil.WriteClientText(conn, []byte(`{"type":"subscribe","channel":"amazon:USA"}`))
	fmt.Println(read())

	msg, err := wire.New(stellar.Rules{}, &stellar.Ping{Site: "amazon", Region: "USA", SKU: "B0DGHRT7PS", OfferID: "offer-1"})
	if err != nil {
		panic(err)
	}
	srv.Publish(msg)
	ev := read()
	_, terr := time.Parse(time.RFC3339Nano, ev["timestamp"].(string))
	fmt.Println(ev["event"], ev["data"], terr == nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	// Output:
	// connected demo
	// map[message:channel "walmart": outside this key's scopes type:error]
	// map[channel:amazon:USA type:subscribed]
	// ping map[offerId:offer-1 region:USA site:amazon sku:B0DGHRT7PS] true
}
