package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrateStoreV1 opens a store written by the code before feeds
// (testdata/store-v1.db, made at commit 53a58b7): every key is in the
// default stellar feed, authenticates as before with routing number 0,
// keeps its settings, slug and usage, and the default feed is persisted.
func TestMigrateStoreV1(t *testing.T) {
	data, err := os.ReadFile("testdata/store-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	var secrets map[string]string
	raw, err := os.ReadFile("testdata/store-v1.secrets.json")
	if err != nil || json.Unmarshal(raw, &secrets) != nil {
		t.Fatalf("secrets: %v", err)
	}
	path := filepath.Join(t.TempDir(), "stellarfeed.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	defer db.Close()
	c := newClock(t0)
	st, err := Open(db, WithClock(c.now))
	if err != nil {
		t.Fatalf("open a v1 store: %v", err)
	}
	feeds := st.Feeds()
	if len(feeds) != 1 || feeds[0].Name != DefaultFeed || feeds[0].Kind != FeedStellar || feeds[0].Num != 0 {
		t.Fatalf("feeds after migration: %+v", feeds)
	}
	id, err := st.Authenticate(secrets["subscriber"], netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatalf("v1 subscriber key: %v", err)
	}
	if id.KeyID != secrets["subscriberId"] || id.Feed != 0 || id.Webhook || len(id.Scopes) != 1 || id.Scopes[0] != "amazon:USA" {
		t.Fatalf("identity %+v", id)
	}
	k, err := st.Check(secrets["ingest"], KindIngest, t0)
	if err != nil || k.Slug != "acme-monitors" || k.MonthlyQuota != 1000 || k.Feed != "" {
		t.Fatalf("v1 ingest token: %+v %v", k, err)
	}
	if u, err := st.Usage(k.ID); err != nil || u.Month != 202611 || u.MonthPings != 7 {
		t.Fatalf("v1 usage: %+v %v", u, err)
	}
	if _, err := st.Check(secrets["admin"], KindAdmin, t0); err != nil {
		t.Fatalf("v1 admin token: %v", err)
	}
	if !st.TokenSlug("acme-monitors") {
		t.Fatal("the v1 token's slug is no longer known")
	}
	// The default feed was written, so a second open finds it as it is.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path)
	st2, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := st2.Feed(DefaultFeed); err != nil || !f.Created.Equal(feeds[0].Created) {
		t.Fatalf("default feed after reopen: %+v %v", f, err)
	}
}

func TestFeedCRUD(t *testing.T) {
	c := newClock(t0)
	st, _, reopen := newStore(t, c)
	wh, err := st.CreateFeed(FeedOptions{Name: "relay", Kind: FeedWebhook, Slugs: []string{"acme-hooks"}, MonthlyQuota: 10})
	if err != nil {
		t.Fatal(err)
	}
	eu, err := st.CreateFeed(FeedOptions{Name: "eu-consoles"})
	if err != nil {
		t.Fatal(err)
	}
	if wh.Num == 0 || eu.Num == 0 || wh.Num == eu.Num || eu.Kind != FeedStellar {
		t.Fatalf("routing numbers %d %d, kind %q", wh.Num, eu.Num, eu.Kind)
	}
	bad := []struct {
		o     FeedOptions
		field string
	}{
		{FeedOptions{Name: "Relay"}, "name"},
		{FeedOptions{Name: "x", Kind: "rss"}, "kind"},
		{FeedOptions{Name: "x", Slugs: []string{"ab"}}, "slugs[0]"},
		{FeedOptions{Name: "x", MaxBytes: -1}, "maxBytes"},
		{FeedOptions{Name: "x", IPRatePerSec: -1}, "ipRatePerSec"},
	}
	for _, b := range bad {
		var ie *InvalidError
		if _, err := st.CreateFeed(b.o); !errors.As(err, &ie) || ie.Field != b.field {
			t.Errorf("%+v: %v, want field %s", b.o, err, b.field)
		}
	}
	for _, o := range []FeedOptions{{Name: "relay"}, {Name: "y", Slugs: []string{"acme-hooks"}}} {
		if _, err := st.CreateFeed(o); !errors.Is(err, ErrConflict) {
			t.Errorf("%+v: %v, want conflict", o, err)
		}
	}
	// A token's slug and a feed's slug cannot shadow each other.
	if _, _, err := st.Create(Options{Kind: KindIngest, Slug: "acme-hooks"}); !errors.Is(err, ErrConflict) {
		t.Errorf("token with a feed's slug: %v", err)
	}
	if f, ok := st.FeedBySlug("acme-hooks"); !ok || f.Name != "relay" {
		t.Fatalf("FeedBySlug: %+v %v", f, ok)
	}
	// Keys name existing feeds; site scopes are for stellar feeds.
	var ie *InvalidError
	if _, _, err := st.Create(Options{Kind: KindSubscriber, Feed: "nope"}); !errors.As(err, &ie) || ie.Field != "feed" {
		t.Errorf("key of a missing feed: %v", err)
	}
	if _, _, err := st.Create(Options{Kind: KindSubscriber, Feed: "relay", Scopes: []string{"amazon"}}); !errors.As(err, &ie) || ie.Field != "scopes" {
		t.Errorf("scoped webhook key: %v", err)
	}
	sec, k, err := st.Create(Options{Kind: KindSubscriber, Feed: "relay"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.Authenticate(sec, netip.Addr{})
	if err != nil || id.Feed != wh.Num || !id.Webhook {
		t.Fatalf("webhook key identity %+v %v", id, err)
	}
	// A feed with live keys stays; the default feed always stays.
	if _, err := st.DeleteFeed("relay"); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete a feed with keys: %v", err)
	}
	if _, err := st.DeleteFeed(DefaultFeed); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete the default feed: %v", err)
	}
	if _, err := st.UpdateFeed("relay", FeedPatch{RequireToken: ptr(true), Slugs: &[]string{"acme-hooks", "acme-2"}}); err != nil {
		t.Fatal(err)
	}
	st = reopen()
	f, err := st.Feed("relay")
	if err != nil || !f.RequireToken || len(f.Slugs) != 2 || f.Num != wh.Num || f.MonthlyQuota != 10 {
		t.Fatalf("after reopen: %+v %v", f, err)
	}
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteFeed("relay"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.FeedBySlug("acme-hooks"); ok {
		t.Fatal("a deleted feed's slug still posts")
	}
	// Its key, revoked anyway, would open nothing: its feed is gone.
	if _, err := st.Authenticate(sec, netip.Addr{}); err == nil {
		t.Fatal("key of a deleted feed authenticated")
	}
	// Numbers are not reused while the store lives.
	nf, err := st.CreateFeed(FeedOptions{Name: "later"})
	if err != nil || nf.Num <= eu.Num {
		t.Fatalf("new feed number %d after %d: %v", nf.Num, eu.Num, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestFeedQuotaRateAndReport(t *testing.T) {
	c := newClock(time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC))
	st, _, reopen := newStore(t, c)
	if _, err := st.CreateFeed(FeedOptions{Name: "relay", Kind: FeedWebhook, Slugs: []string{"hooks"}, MonthlyQuota: 2, IPRatePerSec: 1, RatePerSec: 3}); err != nil {
		t.Fatal(err)
	}
	ip1, ip2, ip3, ip4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
	now := c.now()
	if err := st.AllowFeed("relay", ip1, now); err != nil {
		t.Fatal(err)
	}
	if err := st.AllowFeed("relay", ip1, now); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("second request of one IP in a second: %v", err)
	}
	if err := st.AllowFeed("relay", ip2, now); err != nil {
		t.Fatalf("another IP: %v", err)
	}
	st.AllowFeed("relay", ip3, now)
	if err := st.AllowFeed("relay", ip4, now); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("fourth request to a 3/s feed: %v", err)
	}
	for i, want := range []error{nil, nil, ErrQuota} {
		used, err := st.ChargeFeed("relay", 1, 100, now)
		if !errors.Is(err, want) || used != int64(min(i+1, 2)) {
			t.Fatalf("charge %d: used %d, %v; want %v", i, used, err, want)
		}
	}
	// A new month starts the count again.
	c.add(2 * time.Minute)
	if _, err := st.ChargeFeed("relay", 1, 50, c.now()); err != nil {
		t.Fatalf("January: %v", err)
	}
	sec, k, err := st.Create(Options{Kind: KindSubscriber, Feed: "relay", Label: "customer, \"42\""})
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.Authenticate(sec, ip1)
	if err != nil {
		t.Fatal(err)
	}
	st.Connected(id.KeyID, ip1)
	c.add(90 * time.Second)
	st.Disconnected(id.KeyID, ip1, 90*time.Second, 5)
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	st = reopen()
	dec := st.UsageReport("2026-12", "relay")
	if len(dec) != 2 || dec[0].Kind != "feed" || dec[0].Events != 2 || dec[0].Bytes != 200 || dec[0].OverQuota != 1 || dec[0].RateLimited != 2 {
		t.Fatalf("December report %+v", dec)
	}
	if dec[1].KeyID != k.ID || dec[1].Connections != 0 {
		t.Fatalf("December key line %+v", dec[1])
	}
	jan := st.UsageReport("2027-01", "")
	var line *UsageRow
	for i := range jan {
		if jan[i].KeyID == k.ID {
			line = &jan[i]
		}
	}
	if line == nil || line.Connections != 1 || line.ConnectedSeconds != 90 || line.Deliveries != 5 || line.Feed != "relay" {
		t.Fatalf("January key line %+v in %+v", line, jan)
	}
	var buf bytes.Buffer
	if err := WriteUsageCSV(&buf, jan); err != nil {
		t.Fatal(err)
	}
	want := "2027-01,relay," + k.ID + ",subscriber,\"customer, \"\"42\"\"\",0,0,0,0,1,90,5,0\n"
	if !strings.HasPrefix(buf.String(), "month,feed,key_id,kind,label,") || !strings.Contains(buf.String(), want) {
		t.Fatalf("CSV:\n%s\nwant a line %q", buf.String(), want)
	}
	if _, err := ParseMonth("2026-13"); err == nil {
		t.Fatal("month 13 accepted")
	}
}

func TestSessions(t *testing.T) {
	c := newClock(t0)
	st, _, _ := newStore(t, c)
	sec, k, err := st.Create(Options{Kind: KindSubscriber, Expires: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Login("sfk_nope", 0); !errors.Is(err, ErrUnknown) {
		t.Fatalf("login with a bad key: %v", err)
	}
	tok, exp, err := st.Login(sec, 0)
	if err != nil || !exp.Equal(t0.Add(time.Hour)) || !strings.HasPrefix(tok, "sfs_") {
		t.Fatalf("login: %q %v %v (session must end with the key)", tok, exp, err)
	}
	id, err := st.AuthenticateSession(tok, netip.Addr{})
	if err != nil || id.KeyID != k.ID {
		t.Fatalf("session: %+v %v", id, err)
	}
	if _, err := st.AuthenticateSession(sec, netip.Addr{}); err == nil {
		t.Fatal("a key taken as a session")
	}
	st.Logout(tok)
	if _, err := st.AuthenticateSession(tok, netip.Addr{}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("after logout: %v", err)
	}
	tok, _, _ = st.Login(sec, 0)
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthenticateSession(tok, netip.Addr{}); err == nil || st.Sessions(k.ID) != 0 {
		t.Fatal("a revoked key's session lives on")
	}
	sec2, _, _ := st.Create(Options{Kind: KindSubscriber})
	tok, _, _ = st.Login(sec2, time.Minute)
	c.add(2 * time.Minute)
	if _, err := st.AuthenticateSession(tok, netip.Addr{}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("expired session: %v", err)
	}
}
