package keys

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FeedKind says what a feed carries.
type FeedKind string

// Feed kinds.
const (
	// FeedStellar carries Stellar pings, validated against the ping rules.
	FeedStellar FeedKind = "stellar"
	// FeedWebhook carries any JSON object or array posted to one of the
	// feed's slugs, delivered as {"type":"webhook","id":…,"payload":…}.
	FeedWebhook FeedKind = "webhook"
)

// DefaultFeed is the feed every key without a Feed belongs to: the one
// feed of a store written before feeds existed.
const DefaultFeed = "default"

// DefaultMaxBytes bounds a webhook body when the feed sets no MaxBytes.
const DefaultMaxBytes = 64 << 10

// Feed is one isolated stream of events: its subscriber keys receive its
// events and nothing else, on every endpoint.
type Feed struct {
	// Num routes events in memory (an integer compare per connection in
	// the broadcaster's fan-out). It is local to this store: the default
	// feed is 0, others get the next free number. Nodes of a cluster name
	// feeds on the bus, never by Num.
	Num     uint32    `json:"num"`
	Name    string    `json:"name"`
	Kind    FeedKind  `json:"kind"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`

	// Slugs are the paths of POST /api/in/{slug} that post into the feed.
	Slugs []string `json:"slugs,omitempty"`
	// RequireToken makes the slug alone insufficient: the request must
	// also carry an ingest token of this feed.
	RequireToken bool `json:"requireToken,omitempty"`
	// MaxBytes bounds a webhook body (0: DefaultMaxBytes).
	MaxBytes int `json:"maxBytes,omitempty"`
	// MonthlyQuota bounds the events accepted per UTC month (0: unlimited);
	// over it ingest answers 402.
	MonthlyQuota int64 `json:"monthlyQuota,omitempty"`
	// RatePerSec bounds ingest requests to the feed, IPRatePerSec those
	// of one client IP to it (0: unlimited). Burst: one second's worth.
	RatePerSec   float64 `json:"ratePerSec,omitempty"`
	IPRatePerSec float64 `json:"ipRatePerSec,omitempty"`
}

// Webhook reports whether f carries arbitrary JSON.
func (f *Feed) Webhook() bool { return f.Kind == FeedWebhook }

// BodyLimit is the largest body the feed accepts.
func (f *Feed) BodyLimit() int {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

// FeedOptions are the settings of a new feed.
type FeedOptions struct {
	Name         string
	Kind         FeedKind
	Label        string
	Slugs        []string
	RequireToken bool
	MaxBytes     int
	MonthlyQuota int64
	RatePerSec   float64
	IPRatePerSec float64
}

// FeedPatch changes some settings of a feed; nil fields stay. Name, Num
// and Kind never change: keys and clients refer to them.
type FeedPatch struct {
	Label        *string
	Slugs        *[]string
	RequireToken *bool
	MaxBytes     *int
	MonthlyQuota *int64
	RatePerSec   *float64
	IPRatePerSec *float64
}

func (p *FeedPatch) apply(f Feed) Feed {
	if p.Label != nil {
		f.Label = *p.Label
	}
	if p.Slugs != nil {
		f.Slugs = slices.Clone(*p.Slugs)
	}
	if p.RequireToken != nil {
		f.RequireToken = *p.RequireToken
	}
	if p.MaxBytes != nil {
		f.MaxBytes = *p.MaxBytes
	}
	if p.MonthlyQuota != nil {
		f.MonthlyQuota = *p.MonthlyQuota
	}
	if p.RatePerSec != nil {
		f.RatePerSec = *p.RatePerSec
	}
	if p.IPRatePerSec != nil {
		f.IPRatePerSec = *p.IPRatePerSec
	}
	return f
}

// maxFeedBytes caps MaxBytes: a webhook event is one frame in every
// subscriber's backlog.
const maxFeedBytes = 4 << 20

func validateFeed(f *Feed) error {
	bad := func(field, format string, args ...any) error {
		return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if !isName(f.Name) {
		return bad("name", "%q must be 1-64 lower-case letters, digits, '-' or '_'", f.Name)
	}
	if f.Kind != FeedStellar && f.Kind != FeedWebhook {
		return bad("kind", "%q is not one of stellar, webhook", f.Kind)
	}
	if len(f.Label) > maxLabelLen {
		return bad("label", "longer than %d bytes", maxLabelLen)
	}
	if len(f.Slugs) > 16 {
		return bad("slugs", "at most 16, got %d", len(f.Slugs))
	}
	for i, s := range f.Slugs {
		if !isSlug(s) {
			return bad(fmt.Sprintf("slugs[%d]", i), "%q must be 3-64 lower-case letters, digits or '-'", s)
		}
		if slices.Index(f.Slugs, s) != i {
			return bad(fmt.Sprintf("slugs[%d]", i), "%q listed twice", s)
		}
	}
	if f.MaxBytes < 0 || f.MaxBytes > maxFeedBytes {
		return bad("maxBytes", "must be between 0 (default %d) and %d, got %d", DefaultMaxBytes, maxFeedBytes, f.MaxBytes)
	}
	if f.MonthlyQuota < 0 {
		return bad("monthlyQuota", "must be 0 (unlimited) or more, got %d", f.MonthlyQuota)
	}
	for field, r := range map[string]float64{"ratePerSec": f.RatePerSec, "ipRatePerSec": f.IPRatePerSec} {
		if r < 0 || r != r || r > 1e6 {
			return bad(field, "must be between 0 (unlimited) and 1e6, got %v", r)
		}
	}
	return nil
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var bucketFeeds = []byte("feeds")

// feedRec is a feed in a snapshot; use is shared by its versions.
type feedRec struct {
	feed Feed
	use  *feedUsage
}

// loadFeeds reads bucket "feeds" into snap, and creates the default feed
// when the store has none: a store written before feeds existed opens with
// every key in "default", unchanged.
func (s *Store) loadFeeds(snap *snapshot) error {
	snap.feeds = map[string]*feedRec{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeeds)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var f Feed
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("bucket feeds: record %q: %w", k, err)
			}
			if err := validateFeed(&f); err != nil {
				return fmt.Errorf("bucket feeds: record %q: %w", k, err)
			}
			snap.feeds[f.Name] = &feedRec{feed: f, use: newFeedUsage()}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := s.loadFeedUsage(snap); err != nil {
		return err
	}
	if snap.feeds[DefaultFeed] != nil {
		return nil
	}
	def := Feed{Num: 0, Name: DefaultFeed, Kind: FeedStellar, Created: s.now().UTC().Truncate(time.Second)}
	if !s.db.IsReadOnly() {
		if err := s.putFeed(&def); err != nil {
			return fmt.Errorf("create the default feed: %w", err)
		}
	}
	snap.feeds[DefaultFeed] = &feedRec{feed: def, use: newFeedUsage()}
	return nil
}

func (s *Store) putFeed(f *Feed) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode feed: %w", err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFeeds)
		if err != nil {
			return err
		}
		return b.Put([]byte(f.Name), data)
	})
}

// feedOf returns the feed a key belongs to ("" is the default feed).
func (snap *snapshot) feedOf(k *Key) *feedRec {
	return snap.feeds[cmp.Or(k.Feed, DefaultFeed)]
}

// Feed returns the feed with that name.
func (s *Store) Feed(name string) (Feed, error) {
	fr := s.snap.Load().feeds[cmp.Or(name, DefaultFeed)]
	if fr == nil {
		return Feed{}, fmt.Errorf("feed %q: %w", name, ErrNotFound)
	}
	return fr.feed, nil
}

// FeedBySlug returns the feed that posts to /api/in/{slug}.
func (s *Store) FeedBySlug(slug string) (Feed, bool) {
	for _, fr := range s.snap.Load().feeds {
		if slices.Contains(fr.feed.Slugs, slug) {
			return fr.feed, true
		}
	}
	return Feed{}, false
}

// FeedNum returns the routing number of the feed with that name, for
// events that arrive named (from the cluster bus).
func (s *Store) FeedNum(name string) (uint32, bool) {
	fr := s.snap.Load().feeds[cmp.Or(name, DefaultFeed)]
	if fr == nil {
		return 0, false
	}
	return fr.feed.Num, true
}

// FeedName returns the name of the feed with routing number num.
func (s *Store) FeedName(num uint32) (string, bool) {
	for _, fr := range s.snap.Load().feeds {
		if fr.feed.Num == num {
			return fr.feed.Name, true
		}
	}
	return "", false
}

// Feeds returns every feed, the default first, then by name.
func (s *Store) Feeds() []Feed {
	snap := s.snap.Load()
	out := make([]Feed, 0, len(snap.feeds))
	for _, fr := range snap.feeds {
		out = append(out, fr.feed)
	}
	slices.SortFunc(out, func(a, b Feed) int { return cmp.Compare(a.Num, b.Num) })
	return out
}

// CreateFeed adds a feed.
func (s *Store) CreateFeed(o FeedOptions) (Feed, error) {
	f := Feed{
		Name: o.Name, Kind: o.Kind, Label: o.Label, Created: s.now().UTC().Truncate(time.Second),
		Slugs: slices.Clone(o.Slugs), RequireToken: o.RequireToken, MaxBytes: o.MaxBytes,
		MonthlyQuota: o.MonthlyQuota, RatePerSec: o.RatePerSec, IPRatePerSec: o.IPRatePerSec,
	}
	if f.Kind == "" {
		f.Kind = FeedStellar
	}
	if err := validateFeed(&f); err != nil {
		return Feed{}, fmt.Errorf("create feed: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	if snap.feeds[f.Name] != nil {
		return Feed{}, fmt.Errorf("create feed: feed %q exists: %w", f.Name, ErrConflict)
	}
	if err := snap.feedSlugsFree(f.Slugs, ""); err != nil {
		return Feed{}, fmt.Errorf("create feed: %w", err)
	}
	for _, fr := range snap.feeds {
		f.Num = max(f.Num, fr.feed.Num+1)
	}
	if err := s.commitFeed(snap, &feedRec{feed: f, use: newFeedUsage()}, false); err != nil {
		return Feed{}, fmt.Errorf("create feed: %w", err)
	}
	s.notifyFeed(FeedChange{Feed: f})
	return f, nil
}

// UpdateFeed applies p to the feed with that name.
func (s *Store) UpdateFeed(name string, p FeedPatch) (Feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.feeds[name]
	if old == nil {
		return Feed{}, fmt.Errorf("update feed %q: %w", name, ErrNotFound)
	}
	f := p.apply(old.feed)
	if err := validateFeed(&f); err != nil {
		return Feed{}, fmt.Errorf("update feed %q: %w", name, err)
	}
	if err := snap.feedSlugsFree(f.Slugs, name); err != nil {
		return Feed{}, fmt.Errorf("update feed %q: %w", name, err)
	}
	if err := s.commitFeed(snap, &feedRec{feed: f, use: old.use}, false); err != nil {
		return Feed{}, fmt.Errorf("update feed %q: %w", name, err)
	}
	s.notifyFeed(FeedChange{Feed: f})
	return f, nil
}

// DeleteFeed removes a feed that no live key belongs to. The default feed
// stays.
func (s *Store) DeleteFeed(name string) (Feed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.deleteFeedLocked(name)
	if err != nil {
		return Feed{}, err
	}
	s.notifyFeed(FeedChange{Feed: f, Deleted: true})
	return f, nil
}

func (s *Store) deleteFeedLocked(name string) (Feed, error) {
	snap := s.snap.Load()
	old := snap.feeds[name]
	if old == nil {
		return Feed{}, fmt.Errorf("delete feed %q: %w", name, ErrNotFound)
	}
	if name == DefaultFeed {
		return Feed{}, fmt.Errorf("delete feed %q: the default feed cannot be deleted: %w", name, ErrConflict)
	}
	for id, rec := range snap.byID {
		if rec.key.Feed == name && rec.key.Revoked.IsZero() {
			return Feed{}, fmt.Errorf("delete feed %q: key %s still belongs to it (revoke it first): %w", name, id, ErrConflict)
		}
	}
	if err := s.commitFeed(snap, old, true); err != nil {
		return Feed{}, fmt.Errorf("delete feed %q: %w", name, err)
	}
	return old.feed, nil
}

// feedSlugsFree checks that no other feed nor ingest token posts to slugs.
func (snap *snapshot) feedSlugsFree(slugs []string, self string) error {
	for _, slug := range slugs {
		for name, fr := range snap.feeds {
			if name != self && slices.Contains(fr.feed.Slugs, slug) {
				return fmt.Errorf("slug %q is used by feed %s: %w", slug, name, ErrConflict)
			}
		}
		for id, rec := range snap.byID {
			if rec.key.Slug == slug && rec.key.Revoked.IsZero() {
				return fmt.Errorf("slug %q is used by key %s: %w", slug, id, ErrConflict)
			}
		}
	}
	return nil
}

// commitFeed writes (or deletes) a feed and swaps in a snapshot with it.
// Called with s.mu held.
func (s *Store) commitFeed(snap *snapshot, fr *feedRec, del bool) error {
	if del {
		err := s.db.Update(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketFeeds); b != nil {
				return b.Delete([]byte(fr.feed.Name))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else if err := s.putFeed(&fr.feed); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	next := *snap
	next.feeds = maps.Clone(snap.feeds)
	if del {
		delete(next.feeds, fr.feed.Name)
	} else {
		next.feeds[fr.feed.Name] = fr
	}
	s.snap.Store(&next)
	return nil
}

// checkKeyFeed checks that the feed k names exists and that k's settings
// fit its kind. Called with s.mu held.
func (snap *snapshot) checkKeyFeed(k *Key) error {
	if k.Feed == "" {
		if k.Kind == KindAdmin {
			return nil // an admin token without a feed manages all of them
		}
	}
	fr := snap.feeds[cmp.Or(k.Feed, DefaultFeed)]
	if fr == nil {
		return &InvalidError{Field: "feed", Message: fmt.Sprintf("no feed %q (create it first: feeds create)", k.Feed)}
	}
	if fr.feed.Webhook() && len(k.Scopes) > 0 {
		return &InvalidError{Field: "scopes", Message: "site scopes apply to stellar feeds only; webhook clients narrow by channel"}
	}
	return nil
}

// KeysOfFeed returns the keys of a feed (every key for "" and admin
// tokens without a feed are listed with every feed's keys only by List).
func (s *Store) KeysOfFeed(name string) []Key {
	name = cmp.Or(name, DefaultFeed)
	var out []Key
	for _, k := range s.List() {
		if cmp.Or(k.Feed, DefaultFeed) == name && !(k.Kind == KindAdmin && k.Feed == "") {
			out = append(out, k)
		}
	}
	return out
}

// TokenSlug reports whether a live ingest token posts to /api/in/{slug}
// (the per-token slugs that predate feeds).
func (s *Store) TokenSlug(slug string) bool {
	if slug == "" {
		return false
	}
	snap := s.snap.Load()
	return snap.tokenSlugs.get(func() map[string]bool {
		m := map[string]bool{}
		for _, rec := range snap.byID {
			if rec.key.Slug != "" && rec.key.Revoked.IsZero() {
				m[rec.key.Slug] = true
			}
		}
		return m
	})[slug]
}

// lazySet is a set computed once, on first use.
type lazySet struct {
	once sync.Once
	m    map[string]bool
}

func (l *lazySet) get(build func() map[string]bool) map[string]bool {
	l.once.Do(func() { l.m = build() })
	return l.m
}

// FeedChange is one committed change to a feed: its state after, or the
// state it was deleted in. Remote marks changes made by ApplyFeed and
// ApplyFeedDelete (replicated from another node).
type FeedChange struct {
	Feed    Feed
	Deleted bool
	Remote  bool
}

// SubscribeFeeds calls fn after every committed feed change, under the
// same rules as Subscribe (in commit order, with the store's lock held).
func (s *Store) SubscribeFeeds(fn func(FeedChange)) (unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feedSubs == nil {
		s.feedSubs = map[int]func(FeedChange){}
	}
	id := s.next
	s.next++
	s.feedSubs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.feedSubs, id)
	}
}

// notifyFeed is called with s.mu held.
func (s *Store) notifyFeed(c FeedChange) {
	for _, id := range slices.Sorted(maps.Keys(s.feedSubs)) {
		s.feedSubs[id](c)
	}
}

// sameFeed compares two feeds as another node sees them: Num is local.
func sameFeed(a, b Feed) bool {
	a.Num, b.Num = 0, 0
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// ApplyFeed stores f, a feed committed on another node: created here with
// the next local routing number, or updated keeping its number. A feed
// equal to the stored one changes nothing (ok false). A kind that differs
// from the local feed's is refused with ErrConflict: keys and clients
// were admitted under it.
func (s *Store) ApplyFeed(f Feed) (ok bool, err error) {
	f.Slugs = slices.Clone(f.Slugs)
	if err := validateFeed(&f); err != nil {
		return false, fmt.Errorf("apply feed %q: %w", f.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.feeds[f.Name]
	use := newFeedUsage()
	switch {
	case old != nil && sameFeed(old.feed, f):
		return false, nil
	case old != nil && old.feed.Kind != f.Kind:
		return false, fmt.Errorf("apply feed %q: kind %s here, %s there: %w", f.Name, old.feed.Kind, f.Kind, ErrConflict)
	case old != nil:
		f.Num, use = old.feed.Num, old.use
	default:
		f.Num = 0
		for _, fr := range snap.feeds {
			f.Num = max(f.Num, fr.feed.Num+1)
		}
	}
	if err := snap.feedSlugsFree(f.Slugs, f.Name); err != nil {
		return false, fmt.Errorf("apply feed %q: %w", f.Name, err)
	}
	if err := s.commitFeed(snap, &feedRec{feed: f, use: use}, false); err != nil {
		return false, fmt.Errorf("apply feed %q: %w", f.Name, err)
	}
	s.notifyFeed(FeedChange{Feed: f, Remote: true})
	return true, nil
}

// ApplyFeedDelete deletes a feed deleted on another node, under
// DeleteFeed's rules (no live keys here, not the default feed).
func (s *Store) ApplyFeedDelete(name string) (ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.deleteFeedLocked(name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.notifyFeed(FeedChange{Feed: f, Deleted: true, Remote: true})
	return true, nil
}
