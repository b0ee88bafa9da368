package broadcast

import (
	"sync"
	"sync/atomic"

	"github.com/stellarfeed/stellarfeed/internal/stellar"
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
	mu    sync.Mutex // serialises writers only
	mask  uint64
	slots []slot
	head  atomic.Uint64 // next sequence to assign; sequences start at 1
	total atomic.Uint64 // bytes of every frame appended so far
}

type slot struct {
	seq   atomic.Uint64 // 0 while being rewritten
	start atomic.Uint64 // value of total before this frame
	msg   atomic.Pointer[stellar.Message]
}

func newMsgLog(size int) *msgLog {
	n := 1
	for n < size {
		n <<= 1
	}
	l := &msgLog{mask: uint64(n - 1), slots: make([]slot, n)}
	l.head.Store(1)
	return l
}

// append adds m and returns its sequence number.
func (l *msgLog) append(m *stellar.Message) uint64 {
	l.mu.Lock()
	seq := l.head.Load()
	total := l.total.Load()
	sl := &l.slots[seq&l.mask]
	sl.seq.Store(0)
	sl.msg.Store(m)
	sl.start.Store(total)
	sl.seq.Store(seq)
	l.total.Store(total + uint64(len(m.Frame)))
	l.head.Store(seq + 1)
	l.mu.Unlock()
	return seq
}

// get returns the message with sequence seq and the log's byte count
// before it, or nil when seq has left the ring.
func (l *msgLog) get(seq uint64) (*stellar.Message, uint64) {
	sl := &l.slots[seq&l.mask]
	m := sl.msg.Load()
	start := sl.start.Load()
	if sl.seq.Load() != seq {
		return nil, 0
	}
	return m, start
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
