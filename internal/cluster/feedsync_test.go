package cluster

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// TestFeedsReplicate: a feed created on one node reaches the others under
// their own routing numbers, so its keys authenticate there into the right
// feed; changes and deletes follow; a node that joins later catches up.
func TestFeedsReplicate(t *testing.T) {
	ctx := context.Background()
	n0 := startEmbedded(t, fastConfig("n0"))
	n1 := join(t, n0, fastConfig("n1"))
	s0, s1 := openStore(t), openStore(t)
	// Each node has a feed of its own before they sync, so each numbers
	// the other's differently (relay: 1 on n0, 2 on n1).
	f0, err := s0.CreateFeed(keys.FeedOptions{Name: "relay", Kind: keys.FeedWebhook, Slugs: []string{"acme-relay"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CreateFeed(keys.FeedOptions{Name: "local-only"}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []struct {
		c  *Cluster
		st *keys.Store
	}{{n0, s0}, {n1, s1}} {
		if err := p.c.SyncFeeds(ctx, p.st); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if err := p.c.SyncKeys(ctx, p.st); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	sec, _, err := s0.Create(keys.Options{Kind: keys.KindSubscriber, Feed: "relay"})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
		_, err := s1.Authenticate(sec, netip.Addr{})
		return err == nil
	})
	f1, err := s1.Feed("relay")
	if err != nil || f1.Kind != keys.FeedWebhook || f1.Num == f0.Num || f1.Slugs[0] != "acme-relay" {
		t.Fatalf("relay on n1: %+v %v (n0 numbers it %d)", f1, err, f0.Num)
	}
	id, _ := s1.Authenticate(sec, netip.Addr{})
	if id.Feed != f1.Num || !id.Webhook {
		t.Fatalf("identity on n1 %+v, want feed %d", id, f1.Num)
	}
	// n1's own feed went the other way.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { _, err := s0.Feed("local-only"); return err == nil })

	if _, err := s1.UpdateFeed("relay", keys.FeedPatch{RequireToken: ptrTo(true)}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { f, _ := s0.Feed("relay"); return f.RequireToken })
	if f, _ := s0.Feed("relay"); f.Num != f0.Num {
		t.Fatalf("an update renumbered the feed on n0: %d, was %d", f.Num, f0.Num)
	}

	// A third node joining later gets every feed.
	n2 := join(t, n0, fastConfig("n2"))
	s2 := openStore(t)
	if err := n2.SyncFeeds(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if f, err := s2.Feed("relay"); err != nil || !f.RequireToken {
		t.Fatalf("relay on the late node: %+v %v", f, err)
	}

	if _, err := s0.DeleteFeed("local-only"); err != nil {
		t.Fatal(err)
	}
	for i, st := range []*keys.Store{s1, s2} {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { _, err := st.Feed("local-only"); return err != nil })
		if _, err := st.Feed("relay"); err != nil {
			t.Fatalf("node %d lost relay: %v", i+1, err)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
