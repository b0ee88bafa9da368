package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func offer(sku, oid string) monitors.Offer {
	return monitors.Offer{SKU: sku, OfferID: oid, Title: "Title " + sku, Price: "19.99", Image: "https://m.media-amazon.com/images/I/x.jpg"}
}

func in(offers ...monitors.Offer) monitors.Observation {
	return monitors.Observation{Outcome: monitors.InStock, StellarSite: "amazon", Region: "DE", Offers: offers}
}

var (
	oos     = monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "amazon", Region: "DE"}
	blocked = monitors.Observation{Outcome: monitors.Blocked, Reason: "captcha"}
	failed  = monitors.Observation{Outcome: monitors.Error, Reason: "timeout"}
)

func fmtTransitions(trs []transition) []string {
	var out []string
	for _, tr := range trs {
		out = append(out, fmt.Sprintf("%s %s/%s/%s:%s", tr.kind, tr.site, tr.region, tr.offer.SKU, tr.offer.OfferID))
	}
	return out
}

type step struct {
	target TargetID
	obs    monitors.Observation
	after  time.Duration // advance the clock first
	want   []string
}

func runSteps(t *testing.T, d *dedupe, steps []step) {
	t.Helper()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	for i, s := range steps {
		now = now.Add(s.after)
		got := fmtTransitions(d.observe(s.target, "amazon", &s.obs, now))
		if !slices.Equal(got, s.want) {
			t.Errorf("step %d (target %d, %s): got %q, want %q", i, s.target, s.obs.Outcome, got, s.want)
		}
	}
}

func TestDedupeTransitions(t *testing.T) {
	const restockA1 = "restock amazon/DE/B0000000AA:O1"
	const soldA = "sold_out amazon/DE/B0000000AA:O1"
	a1, a2 := offer("B0000000AA", "O1"), offer("B0000000AA", "O2")
	tests := []struct {
		name  string
		cfg   DedupeOptions
		steps []step
	}{
		{"first run suppressed, then real transitions", DedupeOptions{}, []step{
			{1, in(a1), 0, nil},
			{1, in(a1), time.Second, nil},
			{1, oos, time.Second, []string{soldA}},
			{1, oos, time.Hour, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, in(a1), time.Second, nil},
		}},
		{"without first-run suppression the first check pings", DedupeOptions{FirstRunSuppression: Bool(false)}, []step{
			{1, in(a1), 0, []string{restockA1}},
			{1, in(a1), time.Second, nil},
		}},
		{"out of stock first, then in stock", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
		}},
		{"blocked and error never fire nor mark out of stock", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, blocked, time.Second, nil},
			{1, failed, time.Second, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, blocked, time.Second, nil},
			{1, failed, time.Second, nil},
			{1, in(a1), time.Second, nil},
			{1, monitors.Observation{Outcome: monitors.InStock}, time.Second, nil}, // no offers: a monitor bug
			{1, in(a1), time.Second, nil},
		}},
		{"blocked as first check does not end the first run", DedupeOptions{}, []step{
			{1, blocked, 0, nil},
			{1, in(a1), time.Second, nil},
		}},
		{"new offer for a product in stock pings", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, in(a1, a2), time.Second, []string{"restock amazon/DE/B0000000AA:O2"}},
			{1, in(a2, a1), time.Second, nil},
			{1, in(a2), time.Second, nil}, // O1 left, product still in stock
		}},
		{"new offer silent when disabled", DedupeOptions{PingOnNewOffer: Bool(false)}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, in(a1, a2), time.Second, nil},
		}},
		{"one ping per transition, the preferred offer", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, in(a2, a1), time.Second, []string{"restock amazon/DE/B0000000AA:O2"}},
			{1, in(a1, a2), time.Second, nil},
		}},
		{"cooldown per offer", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, oos, time.Minute, []string{soldA}},
			{1, in(a1), time.Minute, nil}, // 2m after the ping: cooling down
			{1, oos, time.Minute, []string{soldA}},
			{1, in(a2), time.Minute, []string{"restock amazon/DE/B0000000AA:O2"}}, // another offer is not
			{1, oos, time.Minute, []string{"sold_out amazon/DE/B0000000AA:O2"}},
			{1, in(a1), 10 * time.Minute, []string{restockA1}},
		}},
		{"a clock gone back holds the cooldown at most twice its length", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, oos, time.Minute, []string{soldA}},
			{1, in(a1), -2 * time.Minute, nil}, // the ping is 1m ahead: cooling down
			{1, oos, time.Second, []string{soldA}},
			{1, in(a1), -3 * time.Hour, []string{restockA1}}, // 3h ahead: not believed
		}},
		{"negative cooldown disables it", DedupeOptions{Cooldown: -1}, []step{
			{1, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{1, oos, time.Second, []string{soldA}},
			{1, in(a1), time.Second, []string{restockA1}},
		}},
		{"two targets on one product ping once", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{2, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{2, in(a1), 0, nil},
			{1, oos, time.Second, nil}, // target 2 still sees it
			{2, oos, 0, []string{soldA}},
		}},
		{"a stricter filter never undoes a looser one", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{2, oos, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{2, oos, time.Second, nil},
			{2, oos, time.Second, nil},
			{1, in(a1), time.Second, nil},
		}},
		{"regions and sites are different products", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{2, monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "amazon", Region: "UK"}, 0, nil},
			{1, in(a1), time.Second, []string{restockA1}},
			{2, monitors.Observation{Outcome: monitors.InStock, StellarSite: "amazon", Region: "UK", Offers: []monitors.Offer{a1}}, 0,
				[]string{"restock amazon/UK/B0000000AA:O1"}},
		}},
		{"catalog target: new products ping, vanished ones sell out", DedupeOptions{}, []step{
			{3, in(offer("101", ""), offer("102", "")), 0, nil},
			{3, in(offer("101", ""), offer("102", ""), offer("103", "")), time.Second, []string{"restock amazon/DE/103:"}},
			{3, in(offer("101", "")), time.Second, []string{"sold_out amazon/DE/102:", "sold_out amazon/DE/103:"}},
			{3, oos, time.Second, []string{"sold_out amazon/DE/101:"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDedupe(tc.cfg.resolve(), nil, quiet, metrics.NewSet())
			runSteps(t, d, tc.steps)
		})
	}
}

func TestDedupeWouldRestockAgreesWithObserve(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	a1, a2 := offer("B0000000AA", "O1"), offer("B0000000AA", "O2")
	seq := []monitors.Observation{in(a1), oos, in(a1), in(a1), in(a1, a2), oos, blocked, in(a2), oos, in(a1)}
	for _, cfg := range []DedupeOptions{{}, {PingOnNewOffer: Bool(false)}, {Cooldown: -1}, {FirstRunSuppression: Bool(false)}} {
		d := newDedupe(cfg.resolve(), nil, quiet, metrics.NewSet())
		for i, obs := range seq {
			now = now.Add(time.Minute)
			would := d.wouldRestock(1, "amazon", &obs, now)
			trs := d.observe(1, "amazon", &obs, now)
			did := slices.ContainsFunc(trs, func(tr transition) bool { return tr.kind == Restock })
			if would != did {
				t.Errorf("cfg %+v step %d: wouldRestock %v, observe fired %v", cfg, i, would, did)
			}
		}
	}
}

func TestDedupeRetain(t *testing.T) {
	d := newDedupe(DedupeOptions{Cooldown: -1}.resolve(), nil, quiet, metrics.NewSet())
	a1 := offer("B0000000AA", "O1")
	runSteps(t, d, []step{
		{1, oos, 0, nil},
		{1, in(a1), time.Second, []string{"restock amazon/DE/B0000000AA:O1"}},
		{2, oos, 0, nil},
	})
	d.retain(map[TargetID]struct{}{2: {}})
	// Target 1 left: its view no longer holds the product in stock, and if
	// it comes back it starts a new first run. That first run still pings
	// a product whose last known state is out of stock (target 2 saw it
	// so): in stock now is a restock.
	runSteps(t, d, []step{
		{2, in(a1), time.Second, []string{"restock amazon/DE/B0000000AA:O1"}},
		{2, oos, time.Second, []string{"sold_out amazon/DE/B0000000AA:O1"}},
		{1, in(a1), time.Second, []string{"restock amazon/DE/B0000000AA:O1"}},
	})
	// A newcomer on a product last seen in stock records it silently.
	runSteps(t, d, []step{
		{3, in(a1), time.Second, nil},
	})
}

func openBolt(t *testing.T, path string) (*bolt.DB, *BoltState) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewBoltState(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}

func TestDedupePersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a1 := offer("B0000000AA", "O1")
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	observe := func(d *dedupe, id TargetID, obs monitors.Observation, after time.Duration) []string {
		now = now.Add(after)
		return fmtTransitions(d.observe(id, "amazon", &obs, now))
	}
	reopen := func(db *bolt.DB) (*bolt.DB, *dedupe) {
		if db != nil {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		db, st := openBolt(t, path)
		d := newDedupe(DedupeOptions{}.resolve(), st, quiet, metrics.NewSet())
		if err := d.load(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db, d
	}
	db, d := reopen(nil)
	observe(d, 1, oos, 0)
	observe(d, 2, oos, 0)
	if got := observe(d, 1, in(a1), time.Second); len(got) != 1 {
		t.Fatalf("first restock: %q", got)
	}
	db, d = reopen(db)
	if got := observe(d, 1, in(a1), time.Second); got != nil {
		t.Errorf("restart re-pinged: %q", got)
	}
	if got := observe(d, 1, oos, time.Second); len(got) != 1 {
		t.Errorf("sold out after restart: %q", got)
	}
	if got := observe(d, 2, in(a1), time.Second); got != nil {
		t.Errorf("cooldown not persisted: %q", got)
	}
	observe(d, 2, oos, time.Second)
	d.retain(map[TargetID]struct{}{2: {}})
	db, d = reopen(db)
	if _, ok := d.known[1]; ok {
		t.Error("the marker of a retained-out target survived the restart")
	}
	// Target 2 is known from before the restart: its first check after it
	// is not a first run, and an out→in change pings.
	if got := observe(d, 2, in(a1), 11*time.Minute); len(got) != 1 {
		t.Errorf("known target after restart, past cooldown: %q", got)
	}
	if got := observe(d, 1, oos, time.Second); got != nil {
		t.Errorf("retained-out target is new again, got %q", got)
	}
	if got := observe(d, 1, in(a1), time.Second); got != nil {
		t.Errorf("target 1 after retain: %q", got)
	}
	db.Close()

	// A corrupt entry is skipped and named; the rest loads.
	db, st := openBolt(t, path)
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(BoltBucket)).Put([]byte("junk"), []byte("{not json")) }); err != nil {
		t.Fatal(err)
	}
	m, err := st.Load(context.Background())
	if err == nil || !contains(err.Error(), `entry "junk"`) || len(m) < 2 {
		t.Errorf("Load with a corrupt entry: %d entries, err %v", len(m), err)
	}
	d = newDedupe(DedupeOptions{}.resolve(), st, quiet, metrics.NewSet())
	if err := d.load(context.Background()); err != nil {
		t.Errorf("dedupe refused a partly readable state: %v", err)
	}
	db.Close()
}

// failingStore fails every save, to check the state stays in memory.
type failingStore struct{}

func (failingStore) Load(context.Context) (map[string]State, error) { return map[string]State{}, nil }
func (failingStore) Save(string, State) error                       { return fmt.Errorf("disk full") }

func TestDedupeSaveErrorsCounted(t *testing.T) {
	set := metrics.NewSet()
	d := newDedupe(DedupeOptions{}.resolve(), failingStore{}, quiet, set)
	runSteps(t, d, []step{{1, oos, 0, nil}, {1, in(offer("B0000000AA", "O1")), time.Second, []string{"restock amazon/DE/B0000000AA:O1"}}})
	if n := set.GetOrCreateCounter("stellarfeed_state_save_errors_total").Get(); n == 0 {
		t.Error("save errors not counted")
	}
}

// TestDedupeExactlyOnceRacing: 64 targets naming one product flip it in
// and out together; every flip yields exactly one event.
func TestDedupeExactlyOnceRacing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, st := openBolt(t, path)
	defer db.Close()
	d := newDedupe(DedupeOptions{Cooldown: -1}.resolve(), st, quiet, metrics.NewSet())
	const n, rounds = 64, 20
	a1 := offer("B0000000AA", "O1")
	var mu sync.Mutex
	counts := map[EventKind]int{}
	run := func(obs monitors.Observation, sameTarget bool) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			id := TargetID(i + 1)
			if sameTarget {
				id = 1
			}
			wg.Go(func() {
				<-start
				for _, tr := range d.observe(id, "amazon", &obs, time.Now()) {
					mu.Lock()
					counts[tr.kind]++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
	}
	run(oos, false)
	for range rounds {
		run(in(a1), false)
		run(oos, false)
	}
	// A restock fires when the first view fills, a sold out when the last
	// one empties: once each per round, whoever wins the races.
	if counts[Restock] != rounds || counts[SoldOut] != rounds {
		t.Errorf("distinct targets: %d restocks, %d sold outs over %d rounds", counts[Restock], counts[SoldOut], rounds)
	}
	clear(counts)
	for range rounds {
		run(in(a1), true)
		run(oos, true)
	}
	if counts[Restock] != rounds || counts[SoldOut] != rounds {
		t.Errorf("one target racing itself: %d restocks, %d sold outs over %d rounds", counts[Restock], counts[SoldOut], rounds)
	}
}

// fullDisk is a StateStore whose saves fail while full is set.
type fullDisk struct {
	mu       sync.Mutex
	full     bool
	attempts int
	saved    map[string]State
}

func (s *fullDisk) Load(context.Context) (map[string]State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.saved), nil
}

func (s *fullDisk) Save(k string, st State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.full {
		return fmt.Errorf("write state.db: no space left on device")
	}
	s.saved[k] = st
	return nil
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for m, k := range h.n {
		if strings.HasPrefix(m, prefix) {
			n += k
		}
	}
	return n
}

// TestDedupeSaveRetried: on a full disk the state stays in memory, the
// failure is logged once, unchanged checks retry at most every saveRetry,
// and once space returns the state reaches the store without another
// stock change, so a restart pings nothing again.
func TestDedupeSaveRetried(t *testing.T) {
	store := &fullDisk{full: true, saved: map[string]State{}}
	logs := &countingHandler{n: map[string]int{}}
	d := newDedupe(DedupeOptions{}.resolve(), store, slog.New(logs), metrics.NewSet())
	a1 := offer("B0000000AA", "O1")
	const restockA1 = "restock amazon/DE/B0000000AA:O1"
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	check := func(after time.Duration, obs monitors.Observation) []string {
		now = now.Add(after)
		return fmtTransitions(d.observe(1, "amazon", &obs, now))
	}
	check(0, oos)
	if got := check(time.Second, in(a1)); !slices.Equal(got, []string{restockA1}) {
		t.Fatalf("restock on a full disk: %q", got)
	}
	attempts := store.attempts
	for range 4 { // unchanged checks within saveRetry: one retry at most
		check(time.Second, in(a1))
	}
	if n := store.attempts - attempts; n > 2 { // one batch of ≤ 2 entries
		t.Errorf("%d save attempts in 4 s of unchanged checks, want one retry", n)
	}
	if n := logs.count("dedupe state: save failed"); n != 1 {
		t.Errorf("save failure logged %d times, want once", n)
	}

	store.mu.Lock()
	store.full = false
	store.mu.Unlock()
	check(saveRetry, in(a1)) // unchanged, but due for a retry
	if n := logs.count("dedupe state: saved again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	// Without first-run suppression, so only the saved state can keep it
	// quiet.
	restarted := newDedupe(DedupeOptions{FirstRunSuppression: Bool(false)}.resolve(), store, quiet, metrics.NewSet())
	if err := restarted.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs := in(a1)
	if got := restarted.observe(1, "amazon", &obs, now.Add(time.Second)); len(got) != 0 {
		t.Errorf("restart after the disk recovered re-pinged: %q", fmtTransitions(got))
	}
}
