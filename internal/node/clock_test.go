package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// TestSteadyClockIgnoresSteps: a test cannot set the system clock, so the
// steady clock's two sources are replaced: the monotonic time since start
// and the system wall clock, which then jumps while the monotonic one
// advances steadily. Key expiry follows the monotonic time: a step forward
// does not expire a key early, a step back does not bring it back, and
// each step is logged once.
func TestSteadyClockIgnoresSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var elapsed time.Duration
	sys := t0
	rec := &logRecorder{}
	c := &steadyClock{start: t0, since: func() time.Duration { return elapsed }, wall: func() time.Time { return sys }, log: slog.New(rec)}
	advance := func(d time.Duration) { elapsed += d; sys = sys.Add(d) }

	db, err := bolt.Open(filepath.Join(t.TempDir(), "k.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := keys.Open(db, keys.WithClock(c.Now), keys.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Expires: t0.Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	remote := netip.MustParseAddr("127.0.0.1")
	steps := []struct {
		name       string
		move       func()
		wantErr    error
		wantWarned int
	}{
		{"slew of half a second is no step", func() { advance(time.Second); sys = sys.Add(500 * time.Millisecond) }, nil, 0},
		{"system clock steps 1h forward", func() { advance(time.Second); sys = sys.Add(time.Hour) }, nil, 1},
		{"time passes at the new offset", func() { advance(10 * time.Minute) }, nil, 1},
		{"the expiry passes on the steady clock", func() { advance(20 * time.Minute) }, keys.ErrExpired, 1},
		{"system clock steps 2h back", func() { advance(time.Second); sys = sys.Add(-2 * time.Hour) }, keys.ErrExpired, 2},
	}
	for _, s := range steps {
		s.move()
		c.check()
		if _, err := st.Authenticate(secret, remote); !errors.Is(err, s.wantErr) {
			t.Errorf("%s: Authenticate: %v, want %v", s.name, err, s.wantErr)
		}
		if _, err := st.Check(secret, keys.KindSubscriber, c.Now()); !errors.Is(err, s.wantErr) {
			t.Errorf("%s: Check: %v, want %v", s.name, err, s.wantErr)
		}
		if got := rec.count("system clock stepped"); got != s.wantWarned {
			t.Errorf("%s: %d steps logged, want %d", s.name, got, s.wantWarned)
		}
	}
	if got, want := c.Now(), t0.Add(elapsed); !got.Equal(want) {
		t.Errorf("steady clock at %v, want start + monotonic elapsed = %v", got, want)
	}
}

// TestExpiredKeyIsCut: a live connection of a key whose expiry passes is
// closed with 1008 "key expired" by the node's sweep (the broadcaster is
// given no expiry; see runExpiry).
func TestExpiredKeyIsCut(t *testing.T) {
	n := startNode(t, Config{})
	_, tok, err := LocalAPI(n.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	admin := api.NewClient("http://"+n.APIAddr().String(), tok, nil)
	ck, err := admin.Create(context.Background(), api.KeyRequest{Label: "short", Expires: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, n, "key="+ck.Secret)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := wsutil.ReadServerData(c)
		if err == nil {
			continue
		}
		var ce wsutil.ClosedError
		if !errors.As(err, &ce) || ce.Code != ws.StatusPolicyViolation || ce.Reason != "key expired" {
			t.Fatalf("connection of an expiring key ended with %v, want close 1008 \"key expired\"", err)
		}
		break
	}
	if _, err := n.Keys().Check(ck.Secret, keys.KindSubscriber, n.clock.Now()); !errors.Is(err, keys.ErrExpired) {
		t.Errorf("Check after the expiry: %v", err)
	}
}

// TestSSEIDsSurviveRestart: SSE ids start from the clock, but never below
// where the previous clean run stopped, so a clock that went back between
// runs (which a test can only pass in) cannot repeat ids a client saw.
func TestSSEIDsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n, err := Start(context.Background(), Config{DataDir: dir, Demo: true, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, sku := range []string{"1", "2", "3"} {
		if code, body := postPings(t, n, n.Demo().Ingest, `{"site":"shopify","sku":"`+sku+`"}`); code != 202 {
			t.Fatalf("ingest: %d %s", code, body)
		}
	}
	last := n.events.Stats().LastID
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(db, keys.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := recoverDataDir(db, st, newStoreHealth(slog.New(slog.DiscardHandler), db, dir, time.Second, metrics.NewSet()), slog.New(slog.DiscardHandler))
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean || r.SSENext != last+1 {
		t.Fatalf("recovered %+v after a clean stop at SSE id %d", r, last)
	}
	// A clock one hour behind the previous run's ids.
	behind := time.UnixMicro(int64(last)).Add(-time.Hour)
	if got := firstSSEID(behind, r.SSENext); got != last+1 {
		t.Errorf("first SSE id with the clock behind: %d, want %d", got, last+1)
	}
	ahead := time.UnixMicro(int64(last)).Add(time.Hour)
	if got := firstSSEID(ahead, r.SSENext); got != uint64(ahead.UnixMicro()) {
		t.Errorf("first SSE id with the clock ahead: %d, want the clock", got)
	}
}
