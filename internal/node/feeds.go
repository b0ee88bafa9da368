package node

import (
	"cmp"
	"fmt"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// feedRoutes say which feed the engine's restocks go to: a target
// group's feed, or the engine's, or the default feed. They are replaced
// whole on a config reload.
type feedRoutes struct {
	engine string
	groups map[string]string
}

func (r *feedRoutes) name(group string) string {
	return cmp.Or(r.groups[group], r.engine, keys.DefaultFeed)
}

// engineFeed routes an engine event to its feed's routing number. A feed
// deleted since start drops the ping rather than sending it to another
// feed's subscribers.
func (n *Node) engineFeed(ev *engine.Event) (uint32, bool) {
	name := n.routes.Load().name(ev.Group)
	num, ok := n.keys.FeedNum(name)
	if !ok {
		n.log.Warn("engine ping dropped: its feed does not exist", "feed", name, "group", ev.Group, "site", ev.Ping.Site, "sku", ev.Ping.SKU)
	}
	return num, ok
}

// checkFeedRoutes checks that every feed the engine would publish into
// exists and is a stellar feed: a start or a reload that names a missing
// feed is refused (the config names feeds, the store holds them).
func (n *Node) checkFeedRoutes(engineFeed string, groups map[string]string) (*feedRoutes, error) {
	r := &feedRoutes{engine: engineFeed, groups: groups}
	names := map[string]string{"engine.feed": r.name("")}
	for g, f := range groups {
		names["group "+g+" feed"] = f
	}
	for where, name := range names {
		f, err := n.keys.Feed(name)
		if err != nil {
			return nil, fmt.Errorf("%s: no feed %q (create it: stellarfeed feeds create %s)", where, name, name)
		}
		if f.Webhook() {
			return nil, fmt.Errorf("%s: feed %q is a webhook feed; restock pings need a stellar feed", where, name)
		}
	}
	return r, nil
}
