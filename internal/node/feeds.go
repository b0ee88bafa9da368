package node

import (
	"cmp"
	"fmt"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// engineFeedName is the feed an event's restock goes to: its group's, or
// the engine's, or the default feed.
func (n *Node) engineFeedName(group string) string {
	return cmp.Or(n.cfg.GroupFeeds[group], n.cfg.EngineFeed, keys.DefaultFeed)
}

// engineFeed routes an engine event to its feed's routing number. A feed
// deleted since start drops the ping rather than sending it to another
// feed's subscribers.
func (n *Node) engineFeed(ev *engine.Event) (uint32, bool) {
	name := n.engineFeedName(ev.Group)
	num, ok := n.keys.FeedNum(name)
	if !ok {
		n.log.Warn("engine ping dropped: its feed does not exist", "feed", name, "group", ev.Group, "site", ev.Ping.Site, "sku", ev.Ping.SKU)
	}
	return num, ok
}

// checkEngineFeeds refuses to start with an engine feed that does not
// exist: the config names feeds, the store holds them.
func (n *Node) checkEngineFeeds() error {
	if !n.cfg.RunEngine {
		return nil
	}
	names := map[string]string{"engine.feed": n.engineFeedName("")}
	for g, f := range n.cfg.GroupFeeds {
		names["group "+g+" feed"] = f
	}
	for where, name := range names {
		f, err := n.keys.Feed(name)
		if err != nil {
			return fmt.Errorf("%s: no feed %q (create it: stellarfeed feeds create %s)", where, name, name)
		}
		if f.Webhook() {
			return fmt.Errorf("%s: feed %q is a webhook feed; restock pings need a stellar feed", where, name)
		}
	}
	return nil
}
