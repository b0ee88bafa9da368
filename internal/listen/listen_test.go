package listen

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestListenReusePort(t *testing.T) {
	ctx := context.Background()
	a, err := TCP(ctx, "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	addr := a.Addr().String()
	b, err := TCP(ctx, addr, true)
	if err != nil {
		t.Fatalf("second SO_REUSEPORT listener on %s: %v", addr, err)
	}
	defer b.Close()
	if _, err := TCP(ctx, addr, false); err == nil {
		t.Fatal("a listener without SO_REUSEPORT shared the port")
	}
	// The kernel spreads connections over both listeners.
	accepted := make(chan string, 64)
	for _, ln := range []net.Listener{a, b} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- ln.Addr().String() + map[bool]string{true: "a", false: "b"}[ln == a]
				c.Close()
			}
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < 64 && len(seen) < 2; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case who := <-accepted:
			seen[who] = true
		case <-time.After(2 * time.Second):
			t.Fatal("connection not accepted")
		}
	}
	if len(seen) != 2 {
		t.Fatalf("64 connections all went to one listener: %v", seen)
	}
	a.Close()
	b.Close()
	if _, err := a.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}
