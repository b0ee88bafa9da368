package bench

import (
	"math/bits"
	"time"
)

// Latency histogram: log-linear buckets over microseconds, 32 per power of
// two (≤ 3% error), the HdrHistogram idea without its dependency. Values
// up to 2^36 µs (19 h) fit; larger ones land in the last bucket.
const (
	histSub     = 32
	histSubBits = 5
	histBuckets = (36-histSubBits+1)*histSub + histSub
)

// Hist counts latencies. Merging is adding counts, which is how per-client
// process results combine into per-ping figures.
type Hist struct {
	Counts []uint32 `json:"counts"` // trailing zero buckets trimmed in JSON
	N      uint64   `json:"n"`
	MaxUS  int64    `json:"max_us"`
}

func histIndex(us int64) int {
	if us < 0 {
		us = 0
	}
	v := uint64(us)
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	idx := (shift+1)*histSub + int(v>>uint(shift)) - histSub
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// histUpper is the largest value in bucket i, so percentiles err high.
func histUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	sub := i%histSub + histSub
	return int64(uint64(sub+1)<<uint(shift)) - 1
}

// Add records one latency.
func (h *Hist) Add(d time.Duration) {
	if h.Counts == nil {
		h.Counts = make([]uint32, histBuckets)
	}
	us := d.Microseconds()
	h.Counts[histIndex(us)]++
	h.N++
	if us > h.MaxUS {
		h.MaxUS = us
	}
}

// Merge adds o into h.
func (h *Hist) Merge(o *Hist) {
	if o.N == 0 {
		return
	}
	if len(h.Counts) < len(o.Counts) {
		c := make([]uint32, max(len(o.Counts), histBuckets))
		copy(c, h.Counts)
		h.Counts = c
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
	h.MaxUS = max(h.MaxUS, o.MaxUS)
}

// trim drops trailing empty buckets before encoding.
func (h *Hist) trim() {
	n := len(h.Counts)
	for n > 0 && h.Counts[n-1] == 0 {
		n--
	}
	h.Counts = h.Counts[:n]
}

// Quantile returns the latency at q (0..1) in microseconds; the maximum is
// exact, other quantiles are bucket upper bounds capped by it.
func (h *Hist) Quantile(q float64) int64 {
	if h.N == 0 {
		return 0
	}
	if q >= 1 {
		return h.MaxUS
	}
	rank := uint64(q*float64(h.N-1)) + 1
	var seen uint64
	for i, c := range h.Counts {
		seen += uint64(c)
		if seen >= rank {
			return min(histUpper(i), h.MaxUS)
		}
	}
	return h.MaxUS
}
