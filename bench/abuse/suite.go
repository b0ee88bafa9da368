package abuse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// minPingsPerCheck is the fewest canary pings posted during a check.
const minPingsPerCheck = 5

// Check is one attack and its pass criterion. Run returns the figures to
// print and nil when the server held, or an error saying how it did not.
type Check struct {
	Name   string // unique, e.g. "keys/query"; used by Options.Skip
	Family string // the group it is printed under
	About  string // one line: what is attacked and what is expected
	// NeedsAdmin checks are skipped when the target has no admin token.
	NeedsAdmin bool
	Run        func(ctx context.Context, e *Env) (figures string, err error)
}

// Scale bounds the counts and durations of the attacks.
type Scale struct {
	Name string

	SlowlorisConns int           // connections trickling their request
	SlowlorisHold  time.Duration // how long the attack lasts
	Probes         int           // new well-behaved clients measured during an attack
	ProbeP99       time.Duration // the most a new client may wait (p99)

	HalfOpen int // idle sockets that never send a byte

	StormRounds int // reconnect storm rounds
	StormConns  int // connections per round

	// RevokeRounds keys are each revoked while RevokeBurst handshakes
	// with it are in flight.
	RevokeRounds, RevokeBurst int

	FloodFrames   int // WebSocket pings in a ping flood
	SlowConsumers int // clients that never read
	SlowBytes     int // bytes of pings published at them

	// Settle bounds how long the canary may take to receive the marker
	// ping after a check, and how long resources may take to come back.
	Settle time.Duration
	// PingEvery is how often the canary's pings are posted during a check.
	PingEvery time.Duration
}

// Full is `make abuse`: the sizes of the attacks in issue #10.
var Full = Scale{
	Name:           "full",
	SlowlorisConns: 3000, SlowlorisHold: 12 * time.Second, Probes: 20, ProbeP99: time.Second,
	HalfOpen:    1000,
	StormRounds: 10, StormConns: 1000,
	RevokeRounds: 200, RevokeBurst: 32,
	FloodFrames: 200000, SlowConsumers: 50, SlowBytes: 8 << 20,
	Settle: 20 * time.Second, PingEvery: 20 * time.Millisecond,
}

// Reduced runs in `make test`: every check, in seconds.
var Reduced = Scale{
	Name:           "reduced",
	SlowlorisConns: 300, SlowlorisHold: 3 * time.Second, Probes: 5, ProbeP99: time.Second,
	HalfOpen:    300,
	StormRounds: 3, StormConns: 100,
	RevokeRounds: 50, RevokeBurst: 16,
	FloodFrames: 20000, SlowConsumers: 5, SlowBytes: 8 << 20,
	Settle: 10 * time.Second, PingEvery: 20 * time.Millisecond,
}

// Options runs the suite.
type Options struct {
	Target Target
	Scale  Scale
	// Server limits the checks rely on (the broadcaster's defaults when
	// zero): how long a handshake may take before the server closes it,
	// and how long a stalled write before a slow consumer is cut.
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	// Only runs the checks whose name or family is listed (all when
	// empty); Skip leaves out the listed names or families.
	Only, Skip []string
	// SrcIPs are the attackers' source addresses; default 127.0.0.2-.9.
	SrcIPs []string
	Out    io.Writer    // PASS/FAIL lines; default io.Discard
	Logger *slog.Logger // default: discard
}

// Env is what a check gets: the target, the scale, and helpers.
type Env struct {
	Target Target
	Scale  Scale
	Opts   Options
	api    *api
	log    *slog.Logger
	srcN   atomic.Uint64
}

// Result is one check's outcome.
type Result struct {
	Check   Check
	Skipped string // reason, when not run
	Err     error  // nil: PASS
	Figures string
	Canary  Verdict
	Took    time.Duration
}

// Passed is true for a check that ran and held.
func (r Result) Passed() bool { return r.Skipped == "" && r.Err == nil }

// Report is the whole run.
type Report struct{ Results []Result }

// Passed is true when no check failed (skipped checks do not fail).
func (r Report) Passed() bool {
	for _, x := range r.Results {
		if x.Skipped == "" && x.Err != nil {
			return false
		}
	}
	return true
}

// Counts returns passed, failed and skipped checks.
func (r Report) Counts() (pass, fail, skip int) {
	for _, x := range r.Results {
		switch {
		case x.Skipped != "":
			skip++
		case x.Err != nil:
			fail++
		default:
			pass++
		}
	}
	return
}

// Checks is the table of every check, in the order they run: cheap ones
// first, the ones that leave the server busiest last.
func Checks() []Check {
	var all []Check
	for _, fam := range [][]Check{keyChecks(), revokeChecks(), handshakeChecks(), frameChecks(), ingestChecks(), slowChecks(), stormChecks(), lockoutChecks()} {
		all = append(all, fam...)
	}
	return all
}

func selected(c Check, list []string) bool {
	return slices.Contains(list, c.Name) || slices.Contains(list, c.Family)
}

// Run runs the checks against the target and prints one line per check.
func Run(ctx context.Context, opts Options) (Report, error) {
	if err := opts.Target.Validate(); err != nil {
		return Report{}, err
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 5 * time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if len(opts.SrcIPs) == 0 {
		for i := 2; i <= 9; i++ {
			opts.SrcIPs = append(opts.SrcIPs, "127.0.0."+strconv.Itoa(i))
		}
	}
	if opts.Scale.Name == "" {
		opts.Scale = Full
	}
	e := &Env{Target: opts.Target, Scale: opts.Scale, Opts: opts, api: newAPI(opts.Target.API), log: opts.Logger}
	var rep Report
	for _, c := range Checks() {
		if len(opts.Only) > 0 && !selected(c, opts.Only) {
			continue
		}
		var r Result
		switch {
		case selected(c, opts.Skip):
			r = Result{Check: c, Skipped: "skipped by request"}
		case c.NeedsAdmin && opts.Target.AdminToken == "":
			r = Result{Check: c, Skipped: "no admin token"}
		default:
			r = e.run(ctx, c)
		}
		rep.Results = append(rep.Results, r)
		printResult(opts.Out, r)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	pass, fail, skip := rep.Counts()
	fmt.Fprintf(opts.Out, "\n%d passed, %d failed, %d skipped (%s scale)\n", pass, fail, skip, opts.Scale.Name)
	return rep, nil
}

// run runs one check under a fresh canary and a steady stream of pings.
func (e *Env) run(ctx context.Context, c Check) Result {
	start := time.Now()
	r := Result{Check: c}
	prefix := fmt.Sprintf("abuse%d-%s", start.UnixNano(), strings.NewReplacer("/", "-").Replace(c.Name))
	canary, err := DialCanary(ctx, e.Target.WS, e.Target.Key, prefix)
	if err != nil {
		r.Err = fmt.Errorf("before the check: %w", err)
		r.Took = time.Since(start)
		return r
	}
	defer canary.Close()
	pinger := NewPinger(e.Target.API, e.Target.IngestToken, prefix)
	// One ping through before the attack: the canary is registered and
	// the path works, so a loss during the check is the check's doing.
	from, err := WarmUp(ctx, pinger, canary, e.Scale.Settle)
	if err != nil {
		r.Err = fmt.Errorf("before the check: %w", err)
		r.Took = time.Since(start)
		return r
	}
	pctx, stop := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		pinger.Run(pctx, e.Scale.PingEvery)
	}()
	posted := pinger.posted()
	r.Figures, r.Err = c.Run(ctx, e)
	// Short checks still see a few pings go by while the server is busy
	// cleaning up after them.
	for pinger.posted() < posted+minPingsPerCheck && ctx.Err() == nil {
		time.Sleep(e.Scale.PingEvery)
	}
	stop()
	<-pdone
	v, serr := Settle(ctx, pinger, canary, from, e.Scale.Settle)
	r.Canary = v
	switch {
	case serr != nil:
		r.Err = errors.Join(r.Err, serr)
	case !v.OK():
		r.Err = errors.Join(r.Err, fmt.Errorf("canary: %s", v))
	}
	r.Took = time.Since(start)
	return r
}

func printResult(w io.Writer, r Result) {
	switch {
	case r.Skipped != "":
		fmt.Fprintf(w, "SKIP %-28s %s\n", r.Check.Name, r.Skipped)
	case r.Err != nil:
		fmt.Fprintf(w, "FAIL %-28s %s; %s; %.1fs\n     %v\n", r.Check.Name, r.Figures, r.Canary, r.Took.Seconds(), r.Err)
	default:
		fmt.Fprintf(w, "PASS %-28s %s; %s; %.1fs\n", r.Check.Name, r.Figures, r.Canary, r.Took.Seconds())
	}
}

// srcIP returns the next attacker source address, round robin.
func (e *Env) srcIP() string {
	ips := e.Opts.SrcIPs
	return ips[int(e.srcN.Add(1))%len(ips)]
}

// metrics scrapes the target.
func (e *Env) metrics(ctx context.Context) (Metrics, error) { return e.api.Scrape(ctx) }
