package keys

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestApplyReplicates plays one key's life on store a and replays each
// step on store b through Record/JSON/Apply, as the cluster syncer does.
func TestApplyReplicates(t *testing.T) {
	c := newClock(t0)
	a, _, _ := newStore(t, c)
	b, _, reopenB := newStore(t, c)
	var got []Change
	unsub := b.Subscribe(func(ch Change) { got = append(got, ch) })
	defer unsub()

	ship := func(id string) (Change, bool) {
		t.Helper()
		r, err := a.Record(id)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		ch, ok, err := b.Apply(back)
		if err != nil {
			t.Fatal(err)
		}
		return ch, ok
	}

	secret, k := mustCreate(t, a, Options{Kind: KindSubscriber, Label: "acme", MaxConns: 3, Scopes: []string{"amazon:USA"}})
	if ch, ok := ship(k.ID); !ok || ch.Op != OpCreated || !ch.Remote {
		t.Fatalf("create: %+v %v", ch, ok)
	}
	if _, err := b.Check(secret, KindSubscriber, t0); err != nil {
		t.Fatalf("replicated secret refused: %v", err)
	}
	if _, ok := ship(k.ID); ok {
		t.Fatal("applying the same record twice reported a change")
	}

	label := "acme corp"
	if _, err := a.Update(k.ID, Patch{Label: &label}); err != nil {
		t.Fatal(err)
	}
	if ch, ok := ship(k.ID); !ok || ch.Op != OpUpdated || ch.Key.Label != label || ch.Prev.Label != "acme" {
		t.Fatalf("update: %+v %v", ch, ok)
	}

	b.Connected(k.ID, netip.MustParseAddr("192.0.2.1"))
	secret2, _, err := a.Rotate(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := ship(k.ID); !ok || ch.Op != OpRotated || !ch.CutsAccess() {
		t.Fatalf("rotate: %+v %v", ch, ok)
	}
	if _, err := b.Check(secret, KindSubscriber, t0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("old secret after rotate: %v", err)
	}
	if _, err := b.Check(secret2, KindSubscriber, t0); err != nil {
		t.Fatalf("new secret after rotate: %v", err)
	}
	if u, _ := b.Usage(k.ID); u.Conns != 1 {
		t.Fatalf("usage lost across Apply: conns %d", u.Conns)
	}

	before, _ := a.Record(k.ID)
	if _, err := a.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if ch, ok := ship(k.ID); !ok || ch.Op != OpRevoked {
		t.Fatalf("revoke: %+v %v", ch, ok)
	}
	if _, err := b.Check(secret2, KindSubscriber, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	// A stale, unrevoked record must not bring the key back.
	if _, ok, err := b.Apply(before); ok || !errors.Is(err, ErrConflict) {
		t.Fatalf("un-revoke: ok %v err %v", ok, err)
	}
	if len(got) != 4 {
		t.Fatalf("b notified %d times, want 4: %+v", len(got), got)
	}
	// Applied records are durable like local ones.
	b2 := reopenB()
	if kk, err := b2.Get(k.ID); err != nil || kk.Revoked.IsZero() {
		t.Fatalf("after reopen: %+v %v", kk, err)
	}
	if rs := b2.Records(); len(rs) != 1 || rs[0].ID != k.ID {
		t.Fatalf("Records = %+v", rs)
	}
}

func TestApplyRejectsBadRecords(t *testing.T) {
	c := newClock(t0)
	a, _, _ := newStore(t, c)
	b, _, _ := newStore(t, c)
	_, k := mustCreate(t, a, Options{Kind: KindSubscriber})
	good, _ := a.Record(k.ID)
	_, k2 := mustCreate(t, a, Options{Kind: KindSubscriber})
	other, _ := a.Record(k2.ID)
	if _, _, err := b.Apply(other); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		edit  func(r *Record)
		field string // InvalidError field, "" for ErrConflict
	}{
		{"short id", func(r *Record) { r.ID = "abc" }, "id"},
		{"upper-case id", func(r *Record) { r.ID = "ABCDEF0123" }, "id"},
		{"bad hash", func(r *Record) { r.Hash = "zz" }, "hash"},
		{"short hash", func(r *Record) { r.Hash = r.Hash[:10] }, "hash"},
		{"bad kind", func(r *Record) { r.Kind = "root" }, "kind"},
		{"negative maxConns", func(r *Record) { r.MaxConns = -1 }, "maxConns"},
		{"bad scope", func(r *Record) { r.Scopes = []string{"Amazon"} }, "scopes[0]"},
		{"hash of another key", func(r *Record) { r.Hash = other.Hash }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.edit(&r)
			_, ok, err := b.Apply(r)
			if ok || err == nil {
				t.Fatalf("Apply accepted %+v", r)
			}
			var ie *InvalidError
			switch {
			case tt.field == "" && !errors.Is(err, ErrConflict):
				t.Fatalf("err = %v, want ErrConflict", err)
			case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
				t.Fatalf("err = %v, want invalid %s", err, tt.field)
			}
		})
	}
	if _, err := b.Get(k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rejected record was stored: %v", err)
	}
}

func TestPeerConnsCountTowardMaxConns(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber, MaxConns: 3})
	ip := netip.MustParseAddr("192.0.2.7")
	peers := map[string]int{k.ID: 2}
	st.SetPeerConns(func(id string) int { return peers[id] })

	if _, err := st.Authenticate(secret, ip); err != nil {
		t.Fatalf("first local conn with 2 on peers: %v", err)
	}
	if n := st.LocalConns(k.ID); n != 1 {
		t.Fatalf("LocalConns with one pending handshake = %d", n)
	}
	st.Connected(k.ID, ip)
	if n := st.LocalConns(k.ID); n != 1 {
		t.Fatalf("LocalConns after Connected = %d", n)
	}
	if _, err := st.Authenticate(secret, ip); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("1 local + 2 peers of 3: %v", err)
	}
	peers[k.ID] = 1
	if _, err := st.Authenticate(secret, ip); err != nil {
		t.Fatalf("a peer conn ended: %v", err)
	}
	st.SetPeerConns(nil)
	if _, err := st.Authenticate(secret, ip); err != nil {
		t.Fatalf("without peers, 2 of 3: %v", err)
	}
	if _, err := st.Authenticate(secret, ip); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("3 of 3: %v", err)
	}
	c.add(pendingTTL + time.Second)
	if n := st.LocalConns(k.ID); n != 1 {
		t.Fatalf("LocalConns after pending slots expired = %d", n)
	}
}

// FuzzApply: any bucket entry (JSON from another node, possibly corrupt)
// is applied or refused without panic; an accepted record reads back as
// applied and authenticates nothing it should not.
func FuzzApply(f *testing.F) {
	src, _, _ := newStore(f, newClock(t0))
	_, k := mustCreate(f, src, Options{Kind: KindSubscriber, Label: "acme", MaxConns: 2, Scopes: []string{"amazon:USA"}})
	r, _ := src.Record(k.ID)
	good, _ := json.Marshal(r)
	f.Add(good)
	f.Add([]byte(`{"id":"0123456789","kind":"ingest","created":"2026-11-25T07:30:00Z","hash":"` + r.Hash + `","slug":"acme"}`))
	f.Add([]byte(`{"id":"0123456789","kind":"subscriber","hash":"00","revoked":"2026-11-25T07:30:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	dst, _, _ := newStore(f, newClock(t0))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec Record
		if json.Unmarshal(data, &rec) != nil {
			return
		}
		_, ok, err := dst.Apply(rec)
		if ok && err != nil {
			t.Fatalf("Apply reported a change and an error: %v", err)
		}
		if err != nil {
			return
		}
		got, gerr := dst.Record(rec.ID)
		if gerr != nil {
			t.Fatalf("applied record %s not found: %v", rec.ID, gerr)
		}
		if !strings.EqualFold(got.Hash, rec.Hash) && got.Revoked.IsZero() {
			t.Fatalf("applied hash %s, stored %s", rec.Hash, got.Hash)
		}
	})
}
