package engine

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// Target is one configured watch: what to check (monitors.Target) plus how
// often and the labels outputs filter on.
type Target struct {
	monitors.Target
	// Interval between checks; 0 means Options.DefaultInterval.
	Interval time.Duration
	// Group and Tags are copied into every Event of this target.
	Group string
	Tags  []string
}

// TargetID identifies a target across reloads and restarts: a hash of every
// field that changes what a check looks at. Interval, Group and Tags are not
// part of it: changing them restarts the target's loop under the same ID.
type TargetID uint64

// String is the 16-digit hex form used in logs and in the state store.
func (id TargetID) String() string { return fmt.Sprintf("%016x", uint64(id)) }

// ParseTargetID parses the String form.
func ParseTargetID(s string) (TargetID, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	return TargetID(v), err
}

// ID hashes the identity fields with FNV-1a; every string is length-prefixed
// so that ("ab","c") and ("a","bc") differ. A field added to monitors.Target
// must be added here (TestTargetIDCoversEveryField fails until it is).
func (t *Target) ID() TargetID {
	h := fnv.New64a()
	var buf [8]byte
	putU := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	putS := func(s string) {
		putU(uint64(len(s)))
		h.Write([]byte(s))
	}
	mt := &t.Target
	putS(mt.Site)
	putS(mt.Region)
	putS(mt.SKU)
	putS(mt.Store)
	putS(mt.Handle)
	putU(uint64(len(mt.Keywords)))
	for _, g := range mt.Keywords {
		putU(uint64(len(g)))
		for _, k := range g {
			putS(k)
		}
	}
	putS(mt.Merchant)
	putU(math.Float64bits(mt.MaxPrice))
	putS(mt.StellarSite)
	putS(mt.BaseURL)
	// Hashed only when set, so that the IDs of targets without them (every
	// target before they existed) stay as they were.
	if len(mt.Conditions) > 0 || mt.Fulfillment != "" {
		putU(uint64(len(mt.Conditions)))
		for _, c := range mt.Conditions {
			putS(c)
		}
		putS(mt.Fulfillment)
	}
	return TargetID(h.Sum64())
}

// sameSchedule reports whether a and b (same ID) need no loop restart.
func sameSchedule(a, b *Target) bool {
	return a.Interval == b.Interval && a.Group == b.Group && slices.Equal(a.Tags, b.Tags)
}

// offset returns how long a target's first check waits from now: the
// instant t at which t mod interval == (id XOR seed) mod interval. It is
// pinned to the wall clock, as in Prometheus, so checks are spread evenly
// over the interval and a restarted loop (or process) keeps its phase.
func offset(id TargetID, seed uint64, interval time.Duration, now time.Time) time.Duration {
	if interval <= 0 {
		return 0
	}
	iv := int64(interval)
	base := iv - now.UnixNano()%iv
	off := int64((uint64(id) ^ seed) % uint64(iv))
	next := base + off
	if next >= iv {
		next -= iv
	}
	return time.Duration(next)
}
