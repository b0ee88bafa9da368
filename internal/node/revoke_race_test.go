package node

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

type cutCall struct {
	id     string
	code   ws.StatusCode
	reason string
	issued int64 // DisconnectIssued's stamp; -1 for DisconnectKey
}

type fakeHub chan cutCall

func (f fakeHub) DisconnectKey(id string, code ws.StatusCode, reason string) int {
	f <- cutCall{id, code, reason, -1}
	return 1
}

func (f fakeHub) DisconnectIssued(id string, issued int64, code ws.StatusCode, reason string) int {
	f <- cutCall{id, code, reason, issued}
	return 1
}

func TestCutReason(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		key  keys.Key
		want string
	}{
		{"active", keys.Key{}, ""},
		{"expired is the sweep's business", keys.Key{Expires: now.Add(-time.Hour)}, ""},
		{"rotated stays active", keys.Key{Rotated: now}, ""},
		{"revoked", keys.Key{Revoked: now}, "key revoked"},
		{"disabled", keys.Key{Disabled: true}, "key disabled"},
		{"revoked and disabled", keys.Key{Revoked: now, Disabled: true}, "key revoked"},
	}
	for _, tt := range tests {
		if got := cutReason(&tt.key); got != tt.want {
			t.Errorf("%s: cutReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A connection that registers after its key was revoked (it was
// authenticated just before) is cut when the broadcaster reports it
// connected: the revocation's own DisconnectKey may have run before the
// connection was there to be found.
func TestConnectedAfterRevocationIsCut(t *testing.T) {
	st := openKeys(t, t.TempDir(), false)
	_, k, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	hub := make(fakeHub, 1)
	keyAuth{st: st, hub: hub}.Connected(broadcast.Identity{KeyID: k.ID}, netip.MustParseAddr("127.0.0.2"))
	select {
	case c := <-hub:
		if want := (cutCall{k.ID, ws.StatusPolicyViolation, "key revoked", -1}); c != want {
			t.Fatalf("DisconnectKey%+v, want %+v", c, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked key's connection was not cut")
	}
}

// A handshake authenticated with a secret that was rotated away before
// the connection registered is cut, and only it: the rotation's own
// DisconnectKey ran before the connection existed, and the new secret's
// connections must stay.
func TestConnectedAfterRotationIsCut(t *testing.T) {
	st := openKeys(t, t.TempDir(), false)
	secret, _, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	remote := netip.MustParseAddr("127.0.0.2")
	old, err := st.Authenticate(secret, remote)
	if err != nil {
		t.Fatal(err)
	}
	newSecret, _, err := st.Rotate(old.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := st.Authenticate(newSecret, remote)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Issued == old.Issued {
		t.Fatalf("rotation kept the stamp %d", old.Issued)
	}
	hub := make(fakeHub, 2)
	auth := keyAuth{st: st, hub: hub}
	// The new secret's connection registers first: nothing to cut.
	auth.Connected(broadcast.Identity(fresh), remote)
	// Then the one that raced the rotation with the old secret.
	auth.Connected(broadcast.Identity(old), remote)
	select {
	case c := <-hub:
		if want := (cutCall{old.KeyID, ws.StatusPolicyViolation, "key rotated", old.Issued}); c != want {
			t.Fatalf("cut %+v, want %+v", c, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old secret's connection was not cut")
	}
	select {
	case c := <-hub:
		t.Fatalf("a second cut %+v: the new secret's connection must stay", c)
	default:
	}
}

// openKeys opens the key store of a data directory for the test's life.
func openKeys(t *testing.T, dir string, readOnly bool) *keys.Store {
	t.Helper()
	db, err := OpenDB(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := keys.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
