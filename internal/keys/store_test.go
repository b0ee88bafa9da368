package keys

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 25, 7, 30, 0, 0, time.UTC)

// clock is a settable time source for WithClock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }

func openDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// newStore opens a store on a fresh temp file; reopen closes the DB and
// opens the same file again.
func newStore(t testing.TB, c *clock) (st *Store, path string, reopen func() *Store) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "stellarfeed.db")
	db := openDB(t, path)
	open := func(db *bolt.DB) *Store {
		s, err := Open(db, WithClock(c.now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	st = open(db)
	t.Cleanup(func() { db.Close() })
	reopen = func() *Store {
		t.Helper()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db = openDB(t, path)
		return open(db)
	}
	return st, path, reopen
}

func mustCreate(t testing.TB, st *Store, o Options) (string, Key) {
	t.Helper()
	secret, k, err := st.Create(o)
	if err != nil {
		t.Fatal(err)
	}
	return secret, k
}

func TestSecretFormat(t *testing.T) {
	for _, kind := range []Kind{KindSubscriber, KindIngest, KindAdmin} {
		seen := map[string]bool{}
		for range 50 {
			s, err := newSecret(kind)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, kind.Prefix()) || len(s) != secretLen || !wellFormed(s, kind) {
				t.Fatalf("%s: bad secret %q", kind, s)
			}
			if k, ok := kindOf(s); !ok || k != kind {
				t.Fatalf("kindOf(%q) = %v, %v", s, k, ok)
			}
			if seen[s] {
				t.Fatalf("duplicate secret %q", s)
			}
			seen[s] = true
		}
	}
	for _, s := range []string{"", "sfk_", "sfk_short", "sfx_" + strings.Repeat("a", base62Len), "sfk_" + strings.Repeat("a", base62Len-1) + "!", "sfk_" + strings.Repeat("a", base62Len+1)} {
		if wellFormed(s, KindSubscriber) {
			t.Errorf("wellFormed(%q) = true", s)
		}
	}
}

func TestCheck(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	sub, subKey := mustCreate(t, st, Options{Kind: KindSubscriber, Label: "acme"})
	ing, _ := mustCreate(t, st, Options{Kind: KindIngest, Label: "provider"})
	exp, _ := mustCreate(t, st, Options{Kind: KindSubscriber, Expires: t0.Add(time.Hour)})
	dis, _ := mustCreate(t, st, Options{Kind: KindSubscriber, Disabled: true})
	rev, revKey := mustCreate(t, st, Options{Kind: KindSubscriber})
	if _, err := st.Revoke(revKey.ID); err != nil {
		t.Fatal(err)
	}
	other, _ := newSecret(KindSubscriber)

	tests := []struct {
		name   string
		secret string
		kind   Kind
		now    time.Time
		want   error
	}{
		{"valid", sub, KindSubscriber, t0, nil},
		{"valid ingest", ing, KindIngest, t0, nil},
		{"missing", "", KindSubscriber, t0, ErrMissing},
		{"garbage", "hello", KindSubscriber, t0, ErrUnknown},
		{"well-formed but unknown", other, KindSubscriber, t0, ErrUnknown},
		{"wrong kind", ing, KindSubscriber, t0, ErrUnknown},
		{"subscriber as admin", sub, KindAdmin, t0, ErrUnknown},
		{"id instead of secret", subKey.ID, KindSubscriber, t0, ErrUnknown},
		{"before expiry", exp, KindSubscriber, t0.Add(59 * time.Minute), nil},
		{"at expiry", exp, KindSubscriber, t0.Add(time.Hour), ErrExpired},
		{"disabled", dis, KindSubscriber, t0, ErrDisabled},
		{"revoked", rev, KindSubscriber, t0, ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := st.Check(tt.secret, tt.kind, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (k.ID == "" || k.Kind != tt.kind) {
				t.Fatalf("Check returned %+v", k)
			}
			if tt.want != nil && k.ID != "" {
				t.Fatalf("refused Check returned key %s", k.ID)
			}
		})
	}
	// Messages are short and statuses fit HTTP.
	for _, e := range authErrors {
		if len(e.Error()) > 60 || e.HTTPStatus() < 400 || e.HTTPStatus() > 499 {
			t.Errorf("%s: %q %d", e.Code, e.Error(), e.HTTPStatus())
		}
	}
	if got := st.UnknownRejections(); got["missing"] != 1 || got["unknown"] != 5 {
		t.Errorf("UnknownRejections = %v", got)
	}
	u, _ := st.Usage(revKey.ID)
	if u.Rejected["revoked"] != 1 {
		t.Errorf("revoked key usage = %+v", u)
	}
}

func TestCreateValidation(t *testing.T) {
	st, _, _ := newStore(t, newClock(t0))
	mustCreate(t, st, Options{Kind: KindIngest, Slug: "taken"})
	tests := []struct {
		name  string
		o     Options
		field string // InvalidError field, or "" for ErrConflict
	}{
		{"bad kind", Options{Kind: "root"}, "kind"},
		{"negative maxConns", Options{Kind: KindSubscriber, MaxConns: -1}, "maxConns"},
		{"negative ips", Options{Kind: KindSubscriber, MaxIPsPerDay: -2}, "maxIPsPerDay"},
		{"bad scope site", Options{Kind: KindSubscriber, Scopes: []string{"amazon", "Walmart"}}, "scopes[1]"},
		{"bad scope region", Options{Kind: KindSubscriber, Scopes: []string{"amazon:US"}}, "scopes[0]"},
		{"region on walmart", Options{Kind: KindSubscriber, Scopes: []string{"walmart:USA"}}, "scopes[0]"},
		{"duplicate scope", Options{Kind: KindSubscriber, Scopes: []string{"walmart", "walmart"}}, "scopes[1]"},
		{"empty scope", Options{Kind: KindSubscriber, Scopes: []string{""}}, "scopes[0]"},
		{"quota on subscriber", Options{Kind: KindSubscriber, MonthlyQuota: 10}, "monthlyQuota"},
		{"scopes on ingest", Options{Kind: KindIngest, Scopes: []string{"amazon"}}, "scopes"},
		{"rate on admin", Options{Kind: KindAdmin, RatePerSec: 1}, "ratePerSec"},
		{"negative rate", Options{Kind: KindIngest, RatePerSec: -1}, "ratePerSec"},
		{"bad slug", Options{Kind: KindIngest, Slug: "A B"}, "slug"},
		{"long label", Options{Kind: KindAdmin, Label: strings.Repeat("x", 201)}, "label"},
		{"control label", Options{Kind: KindAdmin, Label: "a\nb"}, "label"},
		{"expired at birth", Options{Kind: KindSubscriber, Expires: t0.Add(-time.Hour)}, "expires"},
		{"slug taken", Options{Kind: KindIngest, Slug: "taken"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := st.Create(tt.o)
			if tt.field == "" {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("err = %v, want ErrConflict", err)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("err = %v, want InvalidError on %q", err, tt.field)
			}
		})
	}
	if n := len(st.List()); n != 1 {
		t.Fatalf("%d keys after refused creates, want 1", n)
	}
	ok := Options{Kind: KindSubscriber, Scopes: []string{"amazon:USA", "amazon", "walmartca"}, MaxConns: 3, MaxIPsPerDay: 2}
	mustCreate(t, st, ok)
}

func TestRevokeRotateUpdate(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber, Label: "a", MaxConns: 2, Scopes: []string{"amazon"}})

	// Rotate: same ID and settings, old secret unknown, new one works.
	c.add(time.Minute)
	secret2, k2, err := st.Rotate(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret || k2.ID != k.ID || k2.MaxConns != 2 || k2.Rotated.IsZero() {
		t.Fatalf("rotate: %q %+v", secret2, k2)
	}
	if _, err := st.Check(secret, KindSubscriber, t0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("old secret after rotate: %v", err)
	}
	if _, err := st.Check(secret2, KindSubscriber, t0); err != nil {
		t.Fatalf("new secret: %v", err)
	}

	// Update: only the given fields change; the cache follows at once.
	label, disabled := "b", true
	k3, err := st.Update(k.ID, Patch{Label: &label, Disabled: &disabled})
	if err != nil {
		t.Fatal(err)
	}
	if k3.Label != "b" || !k3.Disabled || k3.MaxConns != 2 || len(k3.Scopes) != 1 {
		t.Fatalf("update: %+v", k3)
	}
	if _, err := st.Check(secret2, KindSubscriber, t0); !errors.Is(err, ErrDisabled) {
		t.Fatalf("after disable: %v", err)
	}
	disabled = false
	exp := t0.Add(-time.Second)
	if _, err := st.Update(k.ID, Patch{Disabled: &disabled, Expires: &exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Check(secret2, KindSubscriber, t0); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry moved: %v", err)
	}
	never := time.Time{}
	if _, err := st.Update(k.ID, Patch{Expires: &never}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Check(secret2, KindSubscriber, t0.Add(1000*time.Hour)); err != nil {
		t.Fatalf("after expiry cleared: %v", err)
	}
	bad := -5
	var ie *InvalidError
	if _, err := st.Update(k.ID, Patch{MaxConns: &bad}); !errors.As(err, &ie) || ie.Field != "maxConns" {
		t.Fatalf("bad update: %v", err)
	}

	// Revoke by secret; again is a no-op; then nothing else changes it.
	rk, err := st.Revoke(secret2)
	if err != nil || rk.Revoked.IsZero() {
		t.Fatalf("revoke: %+v %v", rk, err)
	}
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatalf("revoke again: %v", err)
	}
	if _, err := st.Check(secret2, KindSubscriber, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	if _, _, err := st.Rotate(k.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("rotate revoked: %v", err)
	}
	if _, err := st.Update(k.ID, Patch{Label: &label}); !errors.Is(err, ErrConflict) {
		t.Fatalf("update revoked: %v", err)
	}
	for _, f := range []func() error{
		func() error { _, err := st.Revoke("nope"); return err },
		func() error { _, err := st.Get("nope"); return err },
		func() error { _, _, err := st.Rotate("nope"); return err },
		func() error { _, err := st.Update("nope", Patch{}); return err },
		func() error { _, err := st.Usage("nope"); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	}
	if _, err := st.Revoke(secret); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), secret) {
		t.Errorf("revoke by old secret: %v (must not echo the secret)", err)
	}
}

func TestPersistAndNoSecretsOnDisk(t *testing.T) {
	c := newClock(t0)
	st, path, reopen := newStore(t, c)
	var secrets []string
	var created []Key
	for i, o := range []Options{
		{Kind: KindSubscriber, Label: "sub", MaxConns: 4, Scopes: []string{"amazon:USA"}, Expires: t0.Add(24 * time.Hour), MaxIPsPerDay: 3},
		{Kind: KindIngest, Label: "ing", MonthlyQuota: 1000, RatePerSec: 5, Slug: "acme-feed"},
		{Kind: KindAdmin, Label: "root"},
		{Kind: KindSubscriber, Label: "rotated"},
	} {
		c.add(time.Second)
		s, k := mustCreate(t, st, o)
		if i == 3 {
			var err error
			if s, k, err = st.Rotate(k.ID); err != nil {
				t.Fatal(err)
			}
		}
		secrets, created = append(secrets, s), append(created, k)
	}
	st2 := reopen()
	got := st2.List()
	if len(got) != len(created) {
		t.Fatalf("%d keys after reopen, want %d", len(got), len(created))
	}
	for i, k := range got {
		w := created[i]
		if k.ID != w.ID || k.Label != w.Label || k.Kind != w.Kind || !k.Created.Equal(w.Created) || !k.Expires.Equal(w.Expires) ||
			k.MaxConns != w.MaxConns || strings.Join(k.Scopes, ",") != strings.Join(w.Scopes, ",") || k.Slug != w.Slug ||
			k.MonthlyQuota != w.MonthlyQuota || k.RatePerSec != w.RatePerSec || k.MaxIPsPerDay != w.MaxIPsPerDay {
			t.Errorf("key %d after reopen:\n got %+v\nwant %+v", i, k, w)
		}
		if _, err := st2.Check(secrets[i], w.Kind, t0); err != nil {
			t.Errorf("key %d: Check after reopen: %v", i, err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) || bytes.Contains(raw, []byte(s[4:])) {
			t.Errorf("secret %s… found in the DB file", s[:8])
		}
	}
	if !bytes.Contains(raw, []byte(created[0].ID)) {
		t.Error("DB file does not hold the key IDs: scan is not looking at the right bytes")
	}
}

func TestAuthenticateLimits(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber, Label: "l", MaxConns: 2, MaxIPsPerDay: 2, Scopes: []string{"walmart"}})
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	a, b, d := ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")

	id, err := st.Authenticate(secret, a)
	if err != nil || id.KeyID != k.ID || id.Label != "l" || len(id.Scopes) != 1 {
		t.Fatalf("Authenticate = %+v, %v", id, err)
	}
	st.Connected(k.ID, a)
	if _, err := st.Authenticate(secret, b); err != nil {
		t.Fatal(err)
	}
	// Two slots taken (one live, one handshaking): the third is refused.
	if _, err := st.Authenticate(secret, a); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("third conn: %v", err)
	}
	st.Connected(k.ID, b)
	st.Disconnected(k.ID, a, 90*time.Second, 7)
	// A third IP the same day is refused even with a free slot.
	if _, err := st.Authenticate(secret, d); !errors.Is(err, ErrIPLimit) {
		t.Fatalf("third IP: %v", err)
	}
	// Known IP, IPv4-mapped form: admitted.
	if _, err := st.Authenticate(secret, ip("::ffff:10.0.0.1")); err != nil {
		t.Fatalf("known IP: %v", err)
	}
	// That handshake never completes: its slot returns after pendingTTL.
	if _, err := st.Authenticate(secret, a); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("slot still held: %v", err)
	}
	c.add(pendingTTL + time.Second)
	if _, err := st.Authenticate(secret, a); err != nil {
		t.Fatalf("slot after TTL: %v", err)
	}
	st.Connected(k.ID, a)
	// Next UTC day: IP list starts over.
	st.Disconnected(k.ID, a, time.Second, 1)
	c.add(24 * time.Hour)
	if _, err := st.Authenticate(secret, d); err != nil {
		t.Fatalf("new day: %v", err)
	}
	u, _ := st.Usage(k.ID)
	if u.Conns != 1 || u.Connections != 3 || u.Deliveries != 8 || u.ConnectedTime != 91*time.Second ||
		u.LastIP != d || u.Rejected["max_conns"] != 2 || u.Rejected["ip_limit"] != 1 || len(u.DayIPs) != 1 {
		t.Fatalf("usage = %+v", u)
	}
	// Connected for an unknown key is ignored, not a panic.
	st.Connected("nope", a)
	st.Disconnected("nope", a, time.Second, 1)
}

func TestUsagePersistedAfterFlush(t *testing.T) {
	c := newClock(t0)
	st, _, reopen := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber})
	_, ing := mustCreate(t, st, Options{Kind: KindIngest, MonthlyQuota: 10})
	ip := netip.MustParseAddr("192.0.2.7")
	if _, err := st.Authenticate(secret, ip); err != nil {
		t.Fatal(err)
	}
	st.Connected(k.ID, ip)
	st.Disconnected(k.ID, ip, time.Minute, 42)
	st.Check("sfk_nope", KindSubscriber, t0)
	if err := st.ChargeIngest(ing.ID, 6, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	st.Disconnected(k.ID, ip, time.Hour, 1000) // not flushed: lost on reopen
	st2 := reopen()
	u, err := st2.Usage(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Connections != 1 || u.Deliveries != 42 || u.ConnectedTime != time.Minute || u.LastIP != ip || !u.LastSeen.Equal(t0) || u.Conns != 0 {
		t.Fatalf("usage after reopen = %+v", u)
	}
	if got := st2.UnknownRejections(); got["unknown"] != 1 {
		t.Fatalf("unknown rejections after reopen = %v", got)
	}
	// The quota survives the restart too.
	if err := st2.ChargeIngest(ing.ID, 5, t0); !errors.Is(err, ErrQuota) {
		t.Fatalf("charge over quota after reopen: %v", err)
	}
	if err := st2.ChargeIngest(ing.ID, 4, t0); err != nil {
		t.Fatal(err)
	}
	// New month: quota starts over.
	if err := st2.ChargeIngest(ing.ID, 10, t0.AddDate(0, 1, 0)); err != nil {
		t.Fatalf("new month: %v", err)
	}
	// Nothing dirty: Flush writes nothing and succeeds.
	if err := st2.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := st2.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestAllowIngestRate(t *testing.T) {
	st, _, _ := newStore(t, newClock(t0))
	_, k := mustCreate(t, st, Options{Kind: KindIngest, RatePerSec: 2})
	_, free := mustCreate(t, st, Options{Kind: KindIngest})
	allowed := 0
	for range 10 {
		if st.AllowIngest(k.ID, t0) == nil {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("allowed %d of 10 at one instant, want burst 2", allowed)
	}
	if err := st.AllowIngest(k.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if err := st.AllowIngest(k.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("a second later, 2nd: %v", err)
	}
	if err := st.AllowIngest(k.ID, t0.Add(time.Second)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a second later, 3rd: %v", err)
	}
	for range 100 {
		if err := st.AllowIngest(free.ID, t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubscribe(t *testing.T) {
	st, _, _ := newStore(t, newClock(t0))
	var got []Change
	unsub := st.Subscribe(func(c Change) {
		// Reads from inside the callback see the change already.
		if k, err := st.Get(c.Key.ID); err != nil || k.Revoked != c.Key.Revoked {
			t.Errorf("Get inside callback: %+v %v", k, err)
		}
		got = append(got, c)
	})
	_, k := mustCreate(t, st, Options{Kind: KindSubscriber, Scopes: []string{"amazon"}})
	label := "renamed"
	st.Update(k.ID, Patch{Label: &label})
	scopes := []string{"amazon:USA"}
	st.Update(k.ID, Patch{Scopes: &scopes})
	st.Rotate(k.ID)
	st.Revoke(k.ID)
	st.Revoke(k.ID) // no-op: no change
	unsub()
	mustCreate(t, st, Options{Kind: KindSubscriber})

	want := []struct {
		op   Op
		cuts bool
	}{{OpCreated, false}, {OpUpdated, false}, {OpUpdated, true}, {OpRotated, true}, {OpRevoked, true}}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Op != w.op || got[i].CutsAccess() != w.cuts || got[i].Key.ID != k.ID {
			t.Errorf("change %d = %s cuts=%v, want %s cuts=%v", i, got[i].Op, got[i].CutsAccess(), w.op, w.cuts)
		}
	}
}

func TestCutsAccess(t *testing.T) {
	base := Key{ID: "k", Expires: t0, Scopes: []string{"amazon"}}
	f := func(name string, mod func(k *Key), want bool) {
		t.Helper()
		k := base
		mod(&k)
		if got := (Change{Op: OpUpdated, Key: k, Prev: base}).CutsAccess(); got != want {
			t.Errorf("%s: CutsAccess = %v, want %v", name, got, want)
		}
	}
	f("label", func(k *Key) { k.Label = "x" }, false)
	f("disable", func(k *Key) { k.Disabled = true }, true)
	f("later expiry", func(k *Key) { k.Expires = t0.Add(time.Hour) }, false)
	f("earlier expiry", func(k *Key) { k.Expires = t0.Add(-time.Hour) }, true)
	f("never expires", func(k *Key) { k.Expires = time.Time{} }, false)
	f("scopes", func(k *Key) { k.Scopes = []string{"walmart"} }, true)
	f("more conns", func(k *Key) { k.MaxConns = 9 }, false)
}

func TestOpenRejectsCorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openDB(t, path)
	defer db.Close()
	err := db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists(bucketKeys)
		return b.Put([]byte("abc"), []byte(`{"id":"abc","kind":"subscriber","hash":"zz"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(db); err == nil || !strings.Contains(err.Error(), `"abc"`) || !strings.Contains(err.Error(), "hash") {
		t.Fatalf("Open = %v, want an error naming record abc and its hash", err)
	}
}

func TestReadOnlyOpen(t *testing.T) {
	st, path, _ := newStore(t, newClock(t0))
	secret, _ := mustCreate(t, st, Options{Kind: KindAdmin})
	st.db.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Check(secret, KindAdmin, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ro.Create(Options{Kind: KindAdmin}); err == nil {
		t.Fatal("Create on a read-only store succeeded")
	}
}

func TestConcurrent(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber, MaxConns: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	flushDone := make(chan error, 1)
	go func() { flushDone <- st.RunFlusher(ctx, time.Millisecond) }()
	var authOK atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(g)})
			for range 300 {
				if _, err := st.Authenticate(secret, ip); err == nil {
					authOK.Add(1)
					st.Connected(k.ID, ip)
					st.Disconnected(k.ID, ip, time.Millisecond, 1)
				}
				st.Check(secret, KindSubscriber, t0)
				st.List()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 30 {
			label := strings.Repeat("x", i)
			if _, err := st.Update(k.ID, Patch{Label: &label}); err != nil {
				t.Error(err)
			}
			mustCreate(t, st, Options{Kind: KindSubscriber})
		}
	}()
	wg.Wait()
	cancel()
	if err := <-flushDone; err != nil {
		t.Fatal(err)
	}
	u, _ := st.Usage(k.ID)
	if int64(u.Deliveries) != authOK.Load() || u.Conns != 0 || authOK.Load() != 1200 {
		t.Fatalf("usage %+v after %d auths", u, authOK.Load())
	}
	if len(st.List()) != 31 {
		t.Fatalf("%d keys", len(st.List()))
	}
}

func TestCheckAllocs(t *testing.T) {
	st, _, _ := newStore(t, newClock(t0))
	secret, _ := mustCreate(t, st, Options{Kind: KindSubscriber, Scopes: []string{"amazon"}})
	bad, _ := newSecret(KindSubscriber)
	ip := netip.MustParseAddr("10.1.2.3")
	for name, f := range map[string]func(){
		"check ok":      func() { st.Check(secret, KindSubscriber, t0) },
		"check unknown": func() { st.Check(bad, KindSubscriber, t0) },
		"authenticate":  func() { st.Authenticate(secret, ip) },
	} {
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	st, _, _ := newStore(b, newClock(t0))
	st.db.NoSync = true // setup speed only; Check never touches the DB
	for range 2000 {
		mustCreate(b, st, Options{Kind: KindSubscriber})
	}
	secret, _ := mustCreate(b, st, Options{Kind: KindSubscriber})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Check(secret, KindSubscriber, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	st, _, _ := newStore(b, newClock(t0))
	secret, _ := mustCreate(b, st, Options{Kind: KindSubscriber})
	ip := netip.MustParseAddr("10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Authenticate(secret, ip); err != nil {
			b.Fatal(err)
		}
	}
}
