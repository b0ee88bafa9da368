package abuse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Canary is a well-behaved WebSocket subscriber: it reads every frame as
// it arrives, answers server pings, and records the sequence numbers of
// the marked pings (offerId "<prefix>-<seq>") it receives, in order.
type Canary struct {
	conn   net.Conn
	prefix []byte

	mu      sync.Mutex
	seqs    []int
	other   int   // frames without our marker (simulator pings, ...)
	err     error // why reading stopped
	waiters []chan struct{}
	done    chan struct{}
}

// DialCanary connects a canary to ws://addr/?key=key from 127.0.0.1.
func DialCanary(ctx context.Context, addr, key, prefix string) (*Canary, error) {
	d := ws.Dialer{Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(ctx, "ws://"+addr+"/?key="+key)
	if err != nil {
		return nil, fmt.Errorf("canary: dial: %w", err)
	}
	c := &Canary{conn: conn, prefix: []byte(`"offerId":"` + prefix + "-"), done: make(chan struct{})}
	var r io.Reader = conn
	if br != nil {
		// Frames that came with the 101 answer: copy them out, then give
		// Dial's reader back.
		buf, _ := br.Peek(br.Buffered())
		r = io.MultiReader(bytes.NewReader(bytes.Clone(buf)), conn)
		ws.PutReader(br)
	}
	go c.read(struct {
		io.Reader
		io.Writer
	}{r, conn})
	return c, nil
}

func (c *Canary) read(rw io.ReadWriter) {
	defer close(c.done)
	for {
		data, op, err := wsutil.ReadServerData(rw)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.wake()
			c.mu.Unlock()
			return
		}
		if op != ws.OpText {
			continue
		}
		seq, ok := c.marker(data)
		c.mu.Lock()
		if ok {
			c.seqs = append(c.seqs, seq)
			c.wake()
		} else {
			c.other++
		}
		c.mu.Unlock()
	}
}

// wake tells every waiter to look again. Call with mu held.
func (c *Canary) wake() {
	for _, w := range c.waiters {
		close(w)
	}
	c.waiters = c.waiters[:0]
}

func (c *Canary) marker(p []byte) (int, bool) {
	i := bytes.Index(p, c.prefix)
	if i < 0 {
		return 0, false
	}
	p = p[i+len(c.prefix):]
	j := bytes.IndexByte(p, '"')
	if j < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(p[:j]))
	return n, err == nil
}

// WaitFor waits until the canary has received seq (or any later one), its
// connection failed, or ctx ends.
func (c *Canary) WaitFor(ctx context.Context, seq int) error {
	for {
		c.mu.Lock()
		if n := len(c.seqs); n > 0 && c.seqs[n-1] >= seq {
			c.mu.Unlock()
			return nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return fmt.Errorf("canary disconnected: %w", err)
		}
		w := make(chan struct{})
		c.waiters = append(c.waiters, w)
		c.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("canary: ping %d not received: %w", seq, ctx.Err())
		}
	}
}

// Seqs returns a copy of the marked pings received so far, in order.
func (c *Canary) Seqs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

// Err is why the canary's connection ended, or nil while it is open.
func (c *Canary) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the canary and waits for its reader.
func (c *Canary) Close() {
	_ = c.conn.Close()
	<-c.done
}

// Pinger posts marked pings through the ingest API and remembers which
// ones were accepted (2xx), in order. One goroutine posts at a time, so
// accepted order is publish order.
type Pinger struct {
	api    *api
	token  string
	prefix string
	body   func(prefix string, seq int) []byte

	mu       sync.Mutex
	next     int
	accepted []int
	refused  map[int]int // seq -> status of non-2xx answers
	failed   int         // transport errors (outcome unknown)
}

// NewPinger posts to apiAddr with the ingest token. Pings are small
// Amazon pings whose offerId is "<prefix>-<seq>".
func NewPinger(apiAddr, token, prefix string) *Pinger {
	return &Pinger{api: newAPI(apiAddr), token: token, prefix: prefix, body: smallPing, refused: map[int]int{}, next: 1}
}

func smallPing(prefix string, seq int) []byte {
	return fmt.Appendf(nil, `{"site":"amazon","region":"USA","sku":"B0CANARY01","offerId":"%s-%d","details":{"productTitle":"canary %d","productPrice":"1.00"}}`, prefix, seq, seq)
}

// Post sends the next ping and returns its sequence number and status.
func (p *Pinger) Post(ctx context.Context) (int, int, error) {
	p.mu.Lock()
	seq := p.next
	p.next++
	p.mu.Unlock()
	code, body, err := p.api.do(ctx, http.MethodPost, "/api/pings", p.token, "application/json", p.body(p.prefix, seq))
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil:
		p.failed++
	case code/100 == 2:
		p.accepted = append(p.accepted, seq)
	default:
		p.refused[seq] = code
		err = fmt.Errorf("ping %d: status %d: %s", seq, code, bytes.TrimSpace(body))
	}
	return seq, code, err
}

// Run posts a ping every interval until ctx ends. A post in flight then
// is finished, not cancelled: its outcome is known either way.
func (p *Pinger) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	post := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _, _ = p.Post(post)
		}
	}
}

func (p *Pinger) posted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next - 1
}

// Accepted returns the accepted sequence numbers, in order.
func (p *Pinger) Accepted() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.accepted...)
}

// AcceptedFrom returns the accepted sequence numbers from seq on.
func (p *Pinger) AcceptedFrom(seq int) []int {
	a := p.Accepted()
	i, _ := slices.BinarySearch(a, seq)
	return a[i:]
}

// Counts returns how many pings were accepted, refused and failed.
func (p *Pinger) Counts() (accepted, refused, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted), len(p.refused), p.failed
}

// Verdict compares what was accepted with what the canary received.
type Verdict struct {
	Accepted  int // pings the API answered 2xx
	Received  int // marked pings the canary received
	Lost      int // accepted, never received
	Reordered int // received out of order
	Dup       int // received twice
	Refused   int // pings the API refused (not a loss, but reported)
	Failed    int // transport errors posting (not a loss, but reported)
	FirstLost int // seq of the first lost ping, 0 if none
}

// OK is true when nothing accepted was lost, reordered or duplicated.
func (v Verdict) OK() bool { return v.Lost == 0 && v.Reordered == 0 && v.Dup == 0 }

func (v Verdict) String() string {
	s := fmt.Sprintf("canary %d/%d", v.Received, v.Accepted)
	if v.Lost > 0 {
		s += fmt.Sprintf(" LOST %d (first seq %d)", v.Lost, v.FirstLost)
	}
	if v.Reordered > 0 {
		s += fmt.Sprintf(" REORDERED %d", v.Reordered)
	}
	if v.Dup > 0 {
		s += fmt.Sprintf(" DUP %d", v.Dup)
	}
	if v.Refused+v.Failed > 0 {
		s += fmt.Sprintf(" (ingest refused %d, failed %d)", v.Refused, v.Failed)
	}
	return s
}

// Compare checks received against accepted. Both are sequence numbers;
// accepted is increasing. A received seq that was never accepted (its
// POST failed in transport but the server took it) is not a fault.
func Compare(accepted, received []int) Verdict {
	v := Verdict{Accepted: len(accepted), Received: len(received)}
	seen := make(map[int]bool, len(received))
	last := 0
	for _, s := range received {
		if seen[s] {
			v.Dup++
			continue
		}
		seen[s] = true
		if s < last {
			v.Reordered++
		}
		last = max(last, s)
	}
	for _, s := range accepted {
		if !seen[s] {
			v.Lost++
			if v.FirstLost == 0 {
				v.FirstLost = s
			}
		}
	}
	return v
}

// WarmUp posts pings until the canary receives one and returns its
// sequence number: the first ping the canary is owed. A client sees the
// 101 answer a moment before the server registers it for pings, so pings
// accepted before that are not meant for it.
func WarmUp(ctx context.Context, p *Pinger, c *Canary, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		seq, code, err := p.Post(ctx)
		if err == nil && code/100 == 2 {
			wctx, wcancel := context.WithTimeout(ctx, 250*time.Millisecond)
			err = c.WaitFor(wctx, seq)
			wcancel()
			if err == nil {
				if s := c.Seqs(); len(s) > 0 {
					return s[0], nil
				}
			}
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("canary: no ping received within %s: %w", timeout, err)
		}
		if cerr := c.Err(); cerr != nil {
			return 0, fmt.Errorf("canary disconnected: %w", cerr)
		}
	}
}

// Settle posts a final marker ping (retrying refusals for up to timeout)
// and waits until the canary has it: every ping accepted before it must
// have arrived by then, since one publisher's pings are delivered in order.
// from is the first ping the canary is owed (see WarmUp).
func Settle(ctx context.Context, p *Pinger, c *Canary, from int, timeout time.Duration) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last int
	for {
		seq, code, err := p.Post(ctx)
		if err == nil && code/100 == 2 {
			last = seq
			break
		}
		if ctx.Err() != nil {
			return verdict(p, c, from), fmt.Errorf("canary: no marker ping accepted within %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	err := c.WaitFor(ctx, last)
	return verdict(p, c, from), err
}

func verdict(p *Pinger, c *Canary, from int) Verdict {
	v := Compare(p.AcceptedFrom(from), c.Seqs())
	_, v.Refused, v.Failed = p.Counts()
	return v
}
