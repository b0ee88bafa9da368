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
}

type fakeHub chan cutCall

func (f fakeHub) DisconnectKey(id string, code ws.StatusCode, reason string) int {
	f <- cutCall{id, code, reason}
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
	db, err := OpenDB(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := keys.Open(db)
	if err != nil {
		t.Fatal(err)
	}
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
		if want := (cutCall{k.ID, ws.StatusPolicyViolation, "key revoked"}); c != want {
			t.Fatalf("DisconnectKey%+v, want %+v", c, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked key's connection was not cut")
	}
}
