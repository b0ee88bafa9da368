package broadcast

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// msgLog is the bounded in-memory log of published messages. Publish
// appends (never blocks, never copies a frame); shard passes read any
// sequence still in the ring without a lock. A slot is a tiny seqlock: a
// reader loads the message, then checks the slot still holds the sequence
// it asked for, so a message overwritten under it is detected, never
// misdelivered. A connection lagging beyond the ring is a slow consumer;
// a partially written frame is held by the connection itself, so it stays
// valid even after its slot is reused.
type msgLog struct {
	epoch time.Time  // origin of the log's monotonic clock (now)
	mu    sync.Mutex // serialises writers only
	mask  uint64
	slots []slot
	head  atomic.Uint64 // next sequence to assign; sequences start at 1
	total atomic.Uint64 // bytes of every frame appended so far
}

type slot struct {
	seq   atomic.Uint64 // 0 while being rewritten
	start atomic.Uint64 // value of total before this frame
	at    atomic.Int64  // Publish time (msgLog.now): envelope timestamp, fan-out age
	msg   atomic.Pointer[wire.Message]

	// The /ws envelope of msg, built by the first pass that needs it.
	// envMu makes that build happen once per message even when several
	// shards want it at the same moment; env.seq tells a stale envelope
	// (left by an earlier lap of the ring) from the current one.
	envMu   sync.Mutex
	env     atomic.Pointer[envelope]
	envUnix atomic.Pointer[envelope] // ?timestamp=unix clients' variant
}

// envelope is the /ws event frame of the message with sequence seq.
type envelope struct {
	seq uint64
	msg wire.Message // by value: one allocation less per message
}

func newMsgLog(size int) *msgLog {
	n := 1
	for n < size {
		n <<= 1
	}
	l := &msgLog{epoch: time.Now(), mask: uint64(n - 1), slots: make([]slot, n)}
	l.head.Store(1)
	return l
}

// now reads the log's monotonic clock: nanoseconds since the log was
// made. Publish times and fan-out ages use it, so a wall-clock step never
// shows up as a negative or huge latency.
func (l *msgLog) now() int64 { return int64(time.Since(l.epoch)) }

// append adds m, published at at (from now), and returns its sequence number.
func (l *msgLog) append(m *wire.Message, at int64) uint64 {
	l.mu.Lock()
	seq := l.head.Load()
	total := l.total.Load()
	sl := &l.slots[seq&l.mask]
	sl.seq.Store(0)
	sl.msg.Store(m)
	sl.start.Store(total)
	sl.at.Store(at)
	sl.seq.Store(seq)
	l.total.Store(total + uint64(len(m.Frame)))
	l.head.Store(seq + 1)
	l.mu.Unlock()
	return seq
}

// get returns the message with sequence seq and the log's byte count
// before it, or nil when seq has left the ring.
func (l *msgLog) get(seq uint64) (*wire.Message, uint64) {
	sl := &l.slots[seq&l.mask]
	m := sl.msg.Load()
	start := sl.start.Load()
	if sl.seq.Load() != seq {
		return nil, 0
	}
	return m, start
}

// publishedAt returns the Publish time (msgLog.now) of seq, or false when
// seq has left the ring.
func (l *msgLog) publishedAt(seq uint64) (int64, bool) {
	sl := &l.slots[seq&l.mask]
	at := sl.at.Load()
	return at, sl.seq.Load() == seq
}

// envelope returns the /ws event frame of m, the message with sequence
// seq, building it on first use: once per message, and only for messages
// a /ws connection actually receives. built reports whether this call
// built it. It returns nil when seq has left the ring meanwhile.
func (l *msgLog) envelope(seq uint64, m *wire.Message, unix bool) (env *wire.Message, built bool) {
	sl := &l.slots[seq&l.mask]
	p := &sl.env
	if unix {
		p = &sl.envUnix
	}
	if e := p.Load(); e != nil && e.seq == seq {
		return &e.msg, false
	}
	sl.envMu.Lock()
	defer sl.envMu.Unlock()
	if e := p.Load(); e != nil && e.seq == seq {
		return &e.msg, false
	}
	at := sl.at.Load()
	if sl.seq.Load() != seq {
		return nil, false // overwritten: the caller's conn lagged beyond the log
	}
	// If the slot is reused after the check above, the envelope stored
	// below carries the old seq and is ignored by readers of the new one.
	e := &envelope{seq: seq}
	e.msg = newEnvelope(m, l.epoch.Add(time.Duration(at)), unix)
	p.Store(e)
	return &e.msg, true
}

// backlog returns the bytes published from seq to head, and false when
// seq has already left the ring.
func (l *msgLog) backlog(seq, head uint64) (uint64, bool) {
	if seq >= head {
		return 0, true
	}
	m, start := l.get(seq)
	if m == nil {
		return 0, false
	}
	return l.total.Load() - start, true
}
