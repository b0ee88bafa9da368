package node

import (
	"context"
	"fmt"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
)

// startCluster joins the NATS cluster (Config.Cluster.NATS set): keys are
// replicated before anything serves, so no client is refused for a key
// the cluster already has.
func (n *Node) startCluster(ctx context.Context) error {
	cc := n.cfg.Cluster
	if cc.DataDir == "" {
		cc.DataDir = n.cfg.DataDir // embedded NATS keeps JetStream here
	}
	cc.Metrics = n.metrics
	cl, err := cluster.Start(ctx, cc, n.log)
	if err != nil {
		return err
	}
	cl.SetFeeds(n.keys) // feeds cross the bus by name
	if err := cl.SyncFeeds(ctx, n.keys); err != nil {
		cl.Close()
		return fmt.Errorf("cluster: sync feeds: %w", err)
	}
	if err := cl.SyncKeys(ctx, n.keys); err != nil {
		cl.Close()
		return fmt.Errorf("cluster: sync keys: %w", err)
	}
	n.cluster = cl
	return nil
}

// role reports whether this node plays r; a single process plays all.
func (n *Node) role(r cluster.Role) bool {
	return n.cluster == nil || n.cluster.Config().Has(r)
}

// local is every client endpoint of this process.
func (n *Node) local() api.Publisher { return api.Publishers{n.hub, n.events, n.console} }

// share is the part of targets this node runs: all of them alone, its
// rendezvous share in a cluster.
func (n *Node) share(targets []engine.Target) []engine.Target {
	if n.cluster == nil {
		return targets
	}
	return n.cluster.Members().FilterTargets(targets)
}

// Cluster returns the cluster membership, or nil in single-process mode.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }
