package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// StateStore persists the dedupe state so that a restart re-pings nothing.
//
// Keys are opaque to the store. Load returns every saved entry; when some
// entries are unreadable it returns the readable ones together with an
// error naming the others (the engine logs it and goes on: a lost entry
// costs at most one repeated ping), and a nil map only when nothing could
// be read at all. Save replaces one entry. Stores may also implement
// SaveAll(map[string]State) error, to write a batch in one transaction, and
// Delete(key string) error, to forget targets that left the config.
type StateStore interface {
	Load(ctx context.Context) (map[string]State, error)
	Save(key string, st State) error
}

type stateBatchSaver interface {
	SaveAll(batch map[string]State) error
}

type stateDeleter interface {
	Delete(key string) error
}

// State is what the dedupe stage remembers about one product, keyed by
// (Stellar site, region, sku). Entries whose key starts with "target\x00"
// only mark, by their Updated time, that a target finished its first check.
type State struct {
	Site   string `json:"site,omitempty"`
	Region string `json:"region,omitempty"`
	SKU    string `json:"sku,omitempty"`
	// Views holds, per target (TargetID.String()), the in-stock offer ids
	// that target saw last; an empty list means it saw the product out of
	// stock. The product is in stock while any view is non-empty: two
	// targets with different filters on one product never undo each other.
	Views map[string][]string `json:"views,omitempty"`
	// LastPing is when each offer id was last pinged, for the cooldown.
	LastPing map[string]time.Time `json:"lastPing,omitempty"`
	// LastSeen is when each offer id was last in or left a view, for
	// PingOnNewOffer: an offer seen within the cooldown is not new (a
	// rotating buy box is not a stream of new offers). Entries older than
	// the cooldown are dropped.
	LastSeen map[string]time.Time `json:"lastSeen,omitempty"`
	// OutOfStock is the product's state as last observed. It outlives the
	// views (a target that leaves the config takes its view along), so a
	// new target on a product last seen out of stock pings its restock.
	OutOfStock bool `json:"outOfStock,omitempty"`
	// Title, Image, Price and URL are the last seen details, for SoldOut
	// events.
	Title   string    `json:"title,omitempty"`
	Image   string    `json:"image,omitempty"`
	Price   string    `json:"price,omitempty"`
	URL     string    `json:"url,omitempty"`
	Updated time.Time `json:"updated"`
}

const targetKeyPrefix = "target\x00"

// productKey separates the fields by NUL, which none of them may contain
// meaningfully, so two products never share a key.
func productKey(site, region, sku string) string {
	return site + "\x00" + region + "\x00" + sku
}

func targetKey(id TargetID) string { return targetKeyPrefix + id.String() }

// keyState is State in memory, with typed target ids.
type keyState struct {
	site, region, sku        string
	views                    map[TargetID][]string
	lastPing                 map[string]time.Time
	lastSeen                 map[string]time.Time
	out                      bool // last observed out of stock
	title, image, price, url string
	updated                  time.Time
}

func (ks *keyState) inStock() bool {
	for _, v := range ks.views {
		if len(v) > 0 {
			return true
		}
	}
	return false
}

// othersHave reports whether a target other than id sees offer oid.
func (ks *keyState) othersHave(id TargetID, oid string) bool {
	for tid, v := range ks.views {
		if tid != id && slices.Contains(v, oid) {
			return true
		}
	}
	return false
}

// coolingDown reports whether oid was pinged less than cooldown ago. A
// lastPing in the future means the wall clock went back (lastPing from a
// previous run, read from the store, has no monotonic reading): it counts
// only while it is less than cooldown ahead, so a clock that went back
// by hours suppresses the offer for at most twice the cooldown, not for
// hours.
func (ks *keyState) coolingDown(oid string, cooldown time.Duration, now time.Time) bool {
	t, ok := ks.lastPing[oid]
	return ok && within(t, now, cooldown)
}

// within reports whether t lies less than cooldown before now. A t in the
// future counts only while it is less than cooldown ahead (see
// coolingDown).
func within(t, now time.Time, cooldown time.Duration) bool {
	if cooldown <= 0 {
		return false
	}
	d := now.Sub(t)
	return d < cooldown && d > -cooldown
}

// seenRecently reports whether oid was in some view within the cooldown.
func (ks *keyState) seenRecently(oid string, cooldown time.Duration, now time.Time) bool {
	t, ok := ks.lastSeen[oid]
	return ok && within(t, now, cooldown)
}

// see records that the offers in old and ids were in a view until now,
// and forgets what is older than the cooldown. Called on view changes
// only, so a steady view costs no write.
func (ks *keyState) see(old, ids []string, cooldown time.Duration, now time.Time) {
	if cooldown <= 0 {
		return
	}
	if ks.lastSeen == nil {
		ks.lastSeen = map[string]time.Time{}
	}
	for oid, t := range ks.lastSeen {
		if !within(t, now, cooldown) {
			delete(ks.lastSeen, oid)
		}
	}
	for _, oid := range old {
		ks.lastSeen[oid] = now
	}
	for _, oid := range ids {
		ks.lastSeen[oid] = now
	}
}

// transition is one event the dedupe stage decided on.
type transition struct {
	kind         EventKind
	offer        monitors.Offer
	site, region string
}

// dedupe turns observations into restock and sold-out transitions, exactly
// once: one mutex guards all state (a decision takes microseconds, far
// below a check's network time, so sharding would buy nothing measurable).
// Saving happens after the mutex is released, serialized by saveMu, so
// disk latency never blocks other targets' decisions.
type dedupe struct {
	cfg        dedupeConfig
	store      StateStore
	log        *slog.Logger
	saveErrors *metrics.Counter

	mu       sync.Mutex
	keys     map[string]*keyState
	byTarget map[TargetID]map[string]struct{} // keys each target has a view on
	known    map[TargetID]time.Time           // targets past their first check
	// failedStart holds new targets whose checks so far were all blocked,
	// failed or unreadable (for dedupeConfig.afterBlockedStart).
	failedStart map[TargetID]struct{}
	dirty       map[string]bool // key → delete (true) or save
	changes     uint64          // bumped by every markDirty
	// unsaved is set while entries wait after a failed save (disk full):
	// a check retries them at most every saveRetry, even without a change.
	unsaved   bool
	lastRetry time.Time

	saveMu  sync.Mutex
	failing bool // the last save failed (logged once per run of failures); saveMu held
}

// saveRetry is how often entries left by a failed save are retried when
// nothing else changes.
const saveRetry = 5 * time.Second

func newDedupe(cfg dedupeConfig, store StateStore, log *slog.Logger, set *metrics.Set) *dedupe {
	return &dedupe{
		cfg:        cfg,
		store:      store,
		log:        log,
		saveErrors: set.GetOrCreateCounter("stellarfeed_state_save_errors_total"),
		keys:       map[string]*keyState{},
		byTarget:   map[TargetID]map[string]struct{}{},
		known:      map[TargetID]time.Time{},
		dirty:      map[string]bool{},

		failedStart: map[TargetID]struct{}{},
	}
}

// load reads the persisted state; it must run before the first observe.
func (d *dedupe) load(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	m, err := d.store.Load(ctx)
	if err != nil {
		if m == nil {
			return fmt.Errorf("load dedupe state: %w", err)
		}
		d.log.Warn("dedupe state: some entries were unreadable and are ignored", "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, st := range m {
		if hex, ok := strings.CutPrefix(k, targetKeyPrefix); ok {
			id, err := ParseTargetID(hex)
			if err != nil {
				d.log.Warn("dedupe state: bad target id ignored", "key", k)
				continue
			}
			d.known[id] = st.Updated
			continue
		}
		ks := &keyState{
			site: st.Site, region: st.Region, sku: st.SKU,
			views:    make(map[TargetID][]string, len(st.Views)),
			lastPing: make(map[string]time.Time, len(st.LastPing)),
			lastSeen: maps.Clone(st.LastSeen),
			out:      st.OutOfStock,
			title:    st.Title, image: st.Image, price: st.Price, url: st.URL,
			updated: st.Updated,
		}
		maps.Copy(ks.lastPing, st.LastPing)
		for hex, offers := range st.Views {
			id, err := ParseTargetID(hex)
			if err != nil {
				d.log.Warn("dedupe state: bad target id in views ignored", "key", k, "target", hex)
				continue
			}
			ks.views[id] = slices.Clone(offers)
			d.index(id, k)
		}
		if len(ks.views) > 0 && !ks.inStock() {
			ks.out = true // saved before OutOfStock existed
		}
		d.keys[k] = ks
	}
	return nil
}

// markDirty queues key for saving (or deleting); d.mu must be held.
func (d *dedupe) markDirty(key string, del bool) {
	d.dirty[key] = del
	d.changes++
}

func (d *dedupe) index(id TargetID, key string) {
	s := d.byTarget[id]
	if s == nil {
		s = map[string]struct{}{}
		d.byTarget[id] = s
	}
	s[key] = struct{}{}
}

// keyGroup is the offers of one observation that share a product key, in
// the monitor's order (its order of preference).
type keyGroup struct {
	key    string
	offers []*monitors.Offer
	ids    []string // distinct offer ids
}

// group splits obs into product keys. Only InStock observations carry
// offers; an OutOfStock one has none by definition.
func group(site string, obs *monitors.Observation) []keyGroup {
	if obs.Outcome != monitors.InStock || len(obs.Offers) == 0 {
		return nil
	}
	groups := make([]keyGroup, 0, 1)
	var idx map[string]int // only for catalogs with many products
	for i := range obs.Offers {
		o := &obs.Offers[i]
		k := productKey(site, obs.Region, o.SKU)
		g := -1
		if idx != nil {
			if j, ok := idx[k]; ok {
				g = j
			}
		} else {
			for j := range groups {
				if groups[j].key == k {
					g = j
					break
				}
			}
		}
		if g < 0 {
			groups = append(groups, keyGroup{key: k})
			g = len(groups) - 1
			if idx != nil {
				idx[k] = g
			} else if len(groups) > 16 {
				idx = make(map[string]int, len(obs.Offers))
				for j := range groups {
					idx[groups[j].key] = j
				}
			}
		}
		gr := &groups[g]
		gr.offers = append(gr.offers, o)
		if !slices.Contains(gr.ids, o.OfferID) {
			gr.ids = append(gr.ids, o.OfferID)
		}
	}
	return groups
}

// pingSite is the Stellar site of obs, falling back to the monitor name.
func pingSite(site string, obs *monitors.Observation) string {
	if obs.StellarSite != "" {
		return obs.StellarSite
	}
	return site
}

// observe records one check of target id and returns the transitions it
// causes. Blocked and Error observations change nothing, and neither does
// an InStock one without offers (a monitor bug, not a stock change).
func (d *dedupe) observe(id TargetID, site string, obs *monitors.Observation, now time.Time) []transition {
	return d.observeSKU(id, site, "", obs, now)
}

// observeSKU is observe for a target that watches one product, sku: an
// out-of-stock check then records that product's state too (the
// observation itself names no product), so whoever watches it next knows
// it was last seen out of stock.
func (d *dedupe) observeSKU(id TargetID, site, sku string, obs *monitors.Observation, now time.Time) []transition {
	if obs.Outcome == monitors.Blocked || obs.Outcome == monitors.Error || obs.Outcome == monitors.UnknownLayout {
		d.mu.Lock()
		if _, known := d.known[id]; !known {
			d.failedStart[id] = struct{}{}
		}
		d.mu.Unlock()
		return nil
	}
	if obs.Outcome != monitors.InStock && obs.Outcome != monitors.OutOfStock ||
		obs.Outcome == monitors.InStock && len(obs.Offers) == 0 {
		return nil
	}
	ps := pingSite(site, obs)
	groups := group(ps, obs)
	if obs.Outcome == monitors.OutOfStock && sku != "" {
		groups = []keyGroup{{key: productKey(ps, obs.Region, sku), ids: []string{}}}
	}

	d.mu.Lock()
	changes := d.changes
	var out []transition
	suppress := d.firstRun(id)
	if _, known := d.known[id]; !known {
		d.known[id] = now
		delete(d.failedStart, id)
		d.markDirty(targetKey(id), false)
	}
	for i := range groups {
		g := &groups[i]
		ks := d.keys[g.key]
		if ks == nil {
			ksku := sku
			if len(g.offers) > 0 {
				ksku = g.offers[0].SKU
			}
			ks = &keyState{site: ps, region: obs.Region, sku: ksku, views: map[TargetID][]string{}, lastPing: map[string]time.Time{}}
			d.keys[g.key] = ks
		} else if suppress && ks.out {
			// The product's last known state is out of stock (seen by
			// another target, or by this one under an earlier identity):
			// in stock now is a restock, first run or not.
			out = d.apply(out, ks, g.key, id, g.ids, g.offers, false, now)
			continue
		}
		out = d.apply(out, ks, g.key, id, g.ids, g.offers, suppress, now)
	}
	// Products this target saw before and no longer lists are now out of
	// stock as far as this target is concerned.
	var gone []string
	for k := range d.byTarget[id] {
		if !slices.ContainsFunc(groups, func(g keyGroup) bool { return g.key == k }) && len(d.keys[k].views[id]) > 0 {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone) // events in a stable order
	for _, k := range gone {
		out = d.apply(out, d.keys[k], k, id, []string{}, nil, suppress, now)
	}
	// Flush only when this check changed something: entries left dirty by
	// a failed save go out with the next change, not on every check.
	changed := d.changes != changes
	if !changed && d.unsaved && now.Sub(d.lastRetry) >= saveRetry {
		changed, d.lastRetry = true, now
	}
	d.mu.Unlock()
	if changed {
		d.flush()
	}
	return out
}

// apply sets target id's view of one product to ids and appends the
// transitions. It must be called with d.mu held.
func (d *dedupe) apply(out []transition, ks *keyState, key string, id TargetID, ids []string, offers []*monitors.Offer, suppress bool, now time.Time) []transition {
	old, had := ks.views[id]
	if had && sameSet(old, ids) {
		return out
	}
	wasInStock := ks.inStock()
	ks.views[id] = ids
	d.index(id, key)
	if !suppress {
		fired := false
		for j, oid := range ids {
			if slices.Contains(old, oid) || ks.othersHave(id, oid) || ks.coolingDown(oid, d.cfg.cooldown, now) {
				continue
			}
			if wasInStock && ks.seenRecently(oid, d.cfg.cooldown, now) {
				continue // back in a rotating buy box: not a new offer
			}
			// oid joins the product's in-stock set. The out→in transition
			// pings once, with the monitor's preferred offer; a new offer
			// for a product already in stock pings when enabled.
			if !wasInStock && fired || wasInStock && !d.cfg.newOffer {
				continue
			}
			fired = true
			ks.lastPing[oid] = now
			out = append(out, transition{kind: Restock, offer: *offerByID(offers, oid, j), site: ks.site, region: ks.region})
		}
	}
	ks.see(old, ids, d.cfg.cooldown, now)
	ks.out = !ks.inStock()
	if len(offers) > 0 {
		o := offers[0]
		ks.title, ks.image, ks.price, ks.url = o.Title, o.Image, o.Price, o.URL
	}
	if wasInStock && !ks.inStock() && !suppress {
		gone := ""
		if len(old) > 0 {
			gone = old[0]
		}
		out = append(out, transition{kind: SoldOut, site: ks.site, region: ks.region, offer: monitors.Offer{
			SKU: ks.sku, OfferID: gone, Title: ks.title, Image: ks.image, Price: ks.price, URL: ks.url,
		}})
	}
	ks.updated = now
	d.markDirty(key, false)
	return out
}

func offerByID(offers []*monitors.Offer, oid string, hint int) *monitors.Offer {
	if hint < len(offers) && offers[hint].OfferID == oid {
		return offers[hint]
	}
	for _, o := range offers {
		if o.OfferID == oid {
			return o
		}
	}
	return &monitors.Offer{OfferID: oid}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// wouldRestock reports, without changing anything, whether observing obs
// now would emit a Restock: the engine's re-check runs only then.
func (d *dedupe) wouldRestock(id TargetID, site string, obs *monitors.Observation, now time.Time) bool {
	if obs.Outcome != monitors.InStock {
		return false
	}
	ps := pingSite(site, obs)
	groups := group(ps, obs)
	d.mu.Lock()
	defer d.mu.Unlock()
	suppress := d.firstRun(id)
	for _, g := range groups {
		ks := d.keys[g.key]
		if ks == nil {
			if suppress {
				continue
			}
			return true
		}
		if suppress && !ks.out {
			continue
		}
		old := ks.views[id]
		wasInStock := ks.inStock()
		for _, oid := range g.ids {
			if slices.Contains(old, oid) || ks.othersHave(id, oid) || ks.coolingDown(oid, d.cfg.cooldown, now) {
				continue
			}
			if wasInStock && ks.seenRecently(oid, d.cfg.cooldown, now) {
				continue
			}
			if !wasInStock || d.cfg.newOffer {
				return true
			}
		}
	}
	return false
}

// lastPinged is the latest ping of any product target id has a view on:
// its last restock as the state remembers it (across restarts too).
func (d *dedupe) lastPinged(id TargetID) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var last time.Time
	for k := range d.byTarget[id] {
		if ks := d.keys[k]; ks != nil {
			for _, t := range ks.lastPing {
				if t.After(last) {
					last = t
				}
			}
		}
	}
	return last
}

// setConfig replaces the options; the state is kept.
func (d *dedupe) setConfig(c dedupeConfig) {
	d.mu.Lock()
	d.cfg = c
	d.mu.Unlock()
}

// recheck reports whether a would-be restock is checked once more.
func (d *dedupe) recheck() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.recheck
}

// firstRun reports whether the next successful check of id only records
// what it sees: first-run suppression is on, id has never finished a
// check, and, with afterBlockedStart, it was not blocked or failing until
// now (a restock may have happened behind the block). d.mu must be held.
func (d *dedupe) firstRun(id TargetID) bool {
	if _, known := d.known[id]; known || !d.cfg.firstRun {
		return false
	}
	if _, failed := d.failedStart[id]; failed && d.cfg.afterBlockedStart {
		return false
	}
	return true
}

// retain forgets every target not in ids: their views no longer hold a
// product in stock, and a target that comes back is new again.
func (d *dedupe) retain(ids map[TargetID]struct{}) {
	d.mu.Lock()
	for id, keys := range d.byTarget {
		if _, ok := ids[id]; ok {
			continue
		}
		for k := range keys {
			if ks := d.keys[k]; ks != nil {
				delete(ks.views, id)
				d.markDirty(k, false)
			}
		}
		delete(d.byTarget, id)
	}
	for id := range d.known {
		if _, ok := ids[id]; !ok {
			delete(d.known, id)
			d.markDirty(targetKey(id), true)
		}
	}
	for id := range d.failedStart {
		if _, ok := ids[id]; !ok {
			delete(d.failedStart, id)
		}
	}
	dirty := len(d.dirty) > 0
	d.mu.Unlock()
	if dirty {
		d.flush()
	}
}

// snapshot copies the persisted form of key; d.mu must be held.
func (d *dedupe) snapshot(key string) (State, bool) {
	if hex, ok := strings.CutPrefix(key, targetKeyPrefix); ok {
		id, _ := ParseTargetID(hex)
		t, ok := d.known[id]
		return State{Updated: t}, ok
	}
	ks := d.keys[key]
	if ks == nil {
		return State{}, false
	}
	st := State{
		Site: ks.site, Region: ks.region, SKU: ks.sku,
		Views:      make(map[string][]string, len(ks.views)),
		LastPing:   maps.Clone(ks.lastPing),
		LastSeen:   maps.Clone(ks.lastSeen),
		OutOfStock: ks.out,
		Title:      ks.title, Image: ks.image, Price: ks.price, URL: ks.url,
		Updated: ks.updated,
	}
	for id, v := range ks.views {
		st.Views[id.String()] = slices.Clone(v)
	}
	return st, true
}

// flush writes the dirty entries. Whoever marks an entry dirty calls flush
// afterwards, and saveMu orders the writers, so the last write of a key
// always carries its latest state.
func (d *dedupe) flush() {
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	d.mu.Lock()
	if d.store == nil {
		clear(d.dirty)
		d.mu.Unlock()
		return
	}
	batch := make(map[string]State, len(d.dirty))
	var dels []string
	for k, del := range d.dirty {
		if del {
			dels = append(dels, k)
		} else if st, ok := d.snapshot(k); ok {
			batch[k] = st
		}
	}
	clear(d.dirty)
	d.mu.Unlock()

	var failed []string
	var firstErr error
	fail := func(err error, n int) {
		d.saveErrors.Add(n)
		if firstErr == nil {
			firstErr = err
		}
	}
	if bs, ok := d.store.(stateBatchSaver); ok && len(batch) > 0 {
		if err := bs.SaveAll(batch); err != nil {
			fail(err, len(batch))
			failed = slices.Collect(maps.Keys(batch))
		}
	} else {
		for k, st := range batch {
			if err := d.store.Save(k, st); err != nil {
				fail(err, 1)
				failed = append(failed, k)
			}
		}
	}
	if del, ok := d.store.(stateDeleter); ok {
		for _, k := range dels {
			if err := del.Delete(k); err != nil {
				fail(err, 1)
			}
		}
	}
	d.mu.Lock()
	d.unsaved = len(failed) > 0
	// Retry with the next change (or after saveRetry) rather than lose
	// the entries.
	for _, k := range failed {
		if _, marked := d.dirty[k]; !marked {
			d.dirty[k] = false
		}
	}
	d.mu.Unlock()
	switch {
	case firstErr != nil && !d.failing:
		d.failing = true
		d.log.Error("dedupe state: save failed; kept in memory and retried (logged once until a save succeeds)", "entries", len(failed), "err", firstErr)
	case firstErr == nil && d.failing:
		d.failing = false
		d.log.Info("dedupe state: saved again")
	}
}
