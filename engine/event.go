package engine

import (
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// EventKind says what changed.
type EventKind int

const (
	// Restock: an out-of-stock → in-stock transition (or a new offer for a
	// product already in stock, when enabled). Goes to Stellar clients.
	Restock EventKind = iota + 1
	// SoldOut: an in-stock → out-of-stock transition. Only for outputs that
	// want it (Discord); never sent to Stellar clients.
	SoldOut
)

func (k EventKind) String() string {
	switch k {
	case Restock:
		return "restock"
	case SoldOut:
		return "sold_out"
	}
	return "unknown"
}

// Event is one stock change, emitted once by the dedupe stage.
type Event struct {
	Kind EventKind
	// Ping is the Stellar ping for the offer (valid for Restock).
	Ping stellar.Ping
	// Offer is what the monitor saw; Target what was configured, and
	// TargetID its identity (the key engine nodes share targets by).
	Offer    monitors.Offer
	Target   monitors.Target
	TargetID TargetID
	// Group and Tags come from the config, for outputs' filters.
	Group string
	Tags  []string
	At    time.Time
}

// Output receives events. Emit must not block the engine: an output that
// does slow work (HTTP) queues it and owns the goroutine that drains it.
type Output interface {
	Emit(ev Event)
}
