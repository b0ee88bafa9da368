package bench

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// TestClientProtocol drives one client connection through a scripted
// server: frames glued to the 101 response, a ping to answer, a duplicate,
// an unparsable message, then a close.
func TestClientProtocol(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sent := time.Now().UnixNano()
	text := func(seq int) []byte {
		return appendServerFrame(nil, []byte(`{"site":"amazon","offerId":"`+markerString(seq, sent)+`"}`))
	}
	serverErr := make(chan error, 1)
	pong := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var reqLine string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				serverErr <- err
				return
			}
			if reqLine == "" {
				reqLine = l
			}
			if l == "\r\n" {
				break
			}
		}
		if !strings.HasPrefix(reqLine, "GET /?key=a%2Bb HTTP/1.1") {
			serverErr <- io.ErrUnexpectedEOF
			return
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + wsAccept + "\r\n\r\n"
		_, _ = c.Write(append([]byte(resp), text(0)...)) // a frame glued to the response
		_, _ = c.Write([]byte{0x89, 2, 'h', 'i'})        // ping
		got := make([]byte, 8)
		if _, err := io.ReadFull(br, got); err != nil {
			serverErr <- err
			return
		}
		pong <- got
		var rest []byte
		rest = append(rest, text(1)...)
		rest = append(rest, text(1)...) // duplicate
		rest = append(rest, appendServerFrame(nil, []byte("no marker"))...)
		rest = append(rest, text(3)[:7]...)
		_, _ = c.Write(rest)
		time.Sleep(10 * time.Millisecond) // let the split frame straddle two reads
		_, _ = c.Write(append(text(3)[7:], 0x88, 0))
		_, _ = io.Copy(io.Discard, br) // until the client closes
		serverErr <- nil
	}()

	inR, inW := io.Pipe()
	var out testutil.SyncBuffer
	c := newClient(clientConfig{Addr: ln.Addr().String(), Keys: []string{"a+b"}, Conns: 1, Pings: 4, Readers: 1,
		Handshake: 5 * time.Second, Progress: 10 * time.Millisecond}, &out)
	done := make(chan error, 1)
	go func() { done <- c.run(bufio.NewReader(inR)) }()

	select {
	case p := <-pong:
		if p[0] != 0x8A || p[1] != 0x82 { // FIN|pong, masked, 2 bytes
			t.Errorf("pong header % x", p[:2])
		}
		if got := []byte{p[6] ^ p[2], p[7] ^ p[3]}; string(got) != "hi" {
			t.Errorf("pong payload %q, want \"hi\"", got)
		}
	case err := <-serverErr:
		t.Fatalf("server: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if ev := c.totals(); ev.Recv != 3 || ev.Closed != 1 {
			return io.ErrNoProgress
		}
		return nil
	})
	if _, err := io.WriteString(inW, "result\n"); err != nil {
		t.Fatal(err)
	}
	var res clientEvent
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, `"ev":"result"`) {
				return json.Unmarshal([]byte(line), &res)
			}
		}
		return io.ErrNoProgress
	})
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("server: %v", err)
	}
	if !strings.Contains(out.String(), `"ev":"connected","ok":1`) {
		t.Errorf("no connected event in %q", out.String())
	}
	want := []uint64{1, 1, 0, 1}
	for i, p := range res.Pings {
		if p.Deliveries != want[i] {
			t.Errorf("ping %d: %d deliveries, want %d", i, p.Deliveries, want[i])
		}
	}
	if res.Pings[1].Duplicates != 1 || res.Dups != 1 || res.Unparsed != 1 || res.Closed != 1 || res.ProtoErrors != 0 {
		t.Errorf("result: dups %d/%d unparsed %d closed %d proto %d", res.Pings[1].Duplicates, res.Dups, res.Unparsed, res.Closed, res.ProtoErrors)
	}
}

func TestClientConnectFailures(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() { // answers 401, as a server does for a bad key
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	c := newClient(clientConfig{Addr: addr, Keys: []string{"bad"}, Conns: 3, Pings: 1, Handshake: 5 * time.Second}, io.Discard)
	ok, failed, first := c.connectAll()
	ln.Close()
	if ok != 0 || failed != 3 || !strings.Contains(first, "401") {
		t.Errorf("connectAll = %d ok, %d failed, %q", ok, failed, first)
	}
	c.closeAll()
}
