package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stellarfeed/stellarfeed/engine"
)

// claim is the value of a claims entry, for humans reading the bucket.
type claim struct {
	Node    string    `json:"node"`
	Site    string    `json:"site"`
	Region  string    `json:"region,omitempty"`
	SKU     string    `json:"sku"`
	OfferID string    `json:"offerId"`
	At      time.Time `json:"at"`
}

// ClaimKey names the claim of one restock: a hash of (site, region, sku,
// offer id), NUL-separated so that no two restocks share a key.
func ClaimKey(site, region, sku, offerID string) string {
	h := sha256.Sum256([]byte(site + "\x00" + region + "\x00" + sku + "\x00" + offerID))
	return hex.EncodeToString(h[:20])
}

// Claim is engine.Options.Claim for cluster mode: it claims the restock
// in the claims bucket with a create-if-absent (the KV's compare-and-set
// on revision 0) and reports whether this node won. Entries live
// ClaimWindow, so one offer is pinged at most once per window across all
// engine nodes, as the engine's cooldown does within one node.
//
// If NATS does not answer within ClaimTimeout, the restock is emitted (a
// possible duplicate beats a lost restock) and counted — unless the target
// has moved to another engine node while the check ran: that node checks
// it too and claims for itself, so emitting here would only duplicate.
func (c *Cluster) Claim(ev *engine.Event) bool {
	p := &ev.Ping
	key := ClaimKey(p.Site, p.Region, p.SKU, p.OfferID)
	val, err := json.Marshal(claim{Node: c.cfg.NodeID, Site: p.Site, Region: p.Region, SKU: p.SKU, OfferID: p.OfferID, At: ev.At.UTC()})
	if err != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.ClaimTimeout)
	defer cancel()
	_, err = c.claimsKV.Create(ctx, key, val)
	switch {
	case err == nil:
		c.claims.won.Inc()
		return true
	case errors.Is(err, jetstream.ErrKeyExists):
		c.claims.lost.Inc()
		return false
	default:
		c.claims.failed.Inc()
		if c.members != nil {
			if owner := c.members.Owner(ev.TargetID); owner != "" && owner != c.cfg.NodeID {
				c.log.Warn("claim failed; the target moved to another node, which pings it", "site", p.Site, "sku", p.SKU, "offer", p.OfferID, "owner", owner, "err", err)
				return false
			}
		}
		c.log.Warn("claim failed; emitting the restock anyway", "site", p.Site, "sku", p.SKU, "offer", p.OfferID, "err", err)
		return true
	}
}

type claimMetrics struct{ won, lost, failed *metrics.Counter }

func newClaimMetrics(set *metrics.Set) *claimMetrics {
	return &claimMetrics{
		won:    set.GetOrCreateCounter(`stellarfeed_cluster_claims_total{result="won"}`),
		lost:   set.GetOrCreateCounter(`stellarfeed_cluster_claims_total{result="lost"}`),
		failed: set.GetOrCreateCounter(`stellarfeed_cluster_claims_total{result="failed"}`),
	}
}
