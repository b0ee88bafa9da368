package sse

import (
	"errors"
	"net/netip"
	"testing"
)

func TestConnsAndKick(t *testing.T) {
	h := New(Config{})
	defer h.Close()
	remote := netip.MustParseAddr("203.0.113.7")
	a, err := h.Subscribe(SubscribeOptions{KeyID: "ka", Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Subscribe(SubscribeOptions{KeyID: "kb"})
	if err != nil {
		t.Fatal(err)
	}
	doneA := streamAsync(a, &bufWriter{})
	conns := h.Conns()
	if len(conns) != 2 {
		t.Fatalf("Conns = %+v, want 2", conns)
	}
	var ca Conn
	for _, c := range conns {
		if c.KeyID == "ka" {
			ca = c
		}
	}
	if ca.ID == 0 || ca.Remote != remote || ca.Since.IsZero() {
		t.Fatalf("conn of ka = %+v", ca)
	}
	if !h.Kick(ca.ID) {
		t.Fatal("Kick of a live stream = false")
	}
	if err := wait(t, doneA); !errors.Is(err, ErrKicked) {
		t.Fatalf("Stream = %v, want ErrKicked", err)
	}
	if h.Kick(ca.ID) {
		t.Fatal("second Kick = true")
	}
	if conns := h.Conns(); len(conns) != 1 || conns[0].KeyID != "kb" {
		t.Fatalf("after kick Conns = %+v", conns)
	}
	b.Close()
}
