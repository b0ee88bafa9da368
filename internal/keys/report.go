package keys

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// UsageRow is one line of a month's usage report: a feed's own line
// (KeyID empty: events taken in) or one of its keys'.
type UsageRow struct {
	Month            string `json:"month"`
	Feed             string `json:"feed"`
	KeyID            string `json:"keyId,omitempty"`
	Kind             string `json:"kind"` // "feed", or the key's kind
	Label            string `json:"label,omitempty"`
	Events           int64  `json:"events,omitempty"` // feed: accepted events
	Bytes            int64  `json:"bytes,omitempty"`
	OverQuota        int64  `json:"overQuota,omitempty"`
	RateLimited      int64  `json:"rateLimited,omitempty"`
	Connections      uint64 `json:"connections,omitempty"`
	ConnectedSeconds int64  `json:"connectedSeconds,omitempty"`
	Deliveries       uint64 `json:"deliveries,omitempty"`
	IngestPings      int64  `json:"ingestPings,omitempty"`
}

// ParseMonth checks a report month ("2026-12").
func ParseMonth(s string) (string, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return "", &InvalidError{Field: "month", Message: fmt.Sprintf("%q is not a month such as 2026-12", s)}
	}
	return MonthKey(t), nil
}

// UsageReport lists, for one month, every feed's line followed by its
// keys' lines (keys without activity that month included, so a customer
// who used nothing still shows up). feed, when set, keeps that feed only.
// Admin tokens without a feed are left out: they are not billed.
func (s *Store) UsageReport(month, feed string) []UsageRow {
	var rows []UsageRow
	for _, f := range s.Feeds() {
		if feed != "" && f.Name != feed {
			continue
		}
		fu, _ := s.FeedUsage(f.Name)
		m := fu.Months[month]
		rows = append(rows, UsageRow{
			Month: month, Feed: f.Name, Kind: "feed", Label: f.Label,
			Events: m.Events, Bytes: m.Bytes, OverQuota: m.OverQuota, RateLimited: m.RateLimited,
		})
		ks := s.KeysOfFeed(f.Name)
		slices.SortFunc(ks, func(a, b Key) int { return cmp.Compare(a.ID, b.ID) })
		for _, k := range ks {
			u, err := s.Usage(k.ID)
			if err != nil {
				continue
			}
			km := u.Months[month]
			rows = append(rows, UsageRow{
				Month: month, Feed: f.Name, KeyID: k.ID, Kind: string(k.Kind), Label: k.Label,
				Connections: km.Connections, ConnectedSeconds: int64(km.ConnectedTime / time.Second),
				Deliveries: km.Deliveries, IngestPings: km.IngestPings,
			})
		}
	}
	return rows
}

// WriteUsageCSV writes rows as CSV with a header line.
func WriteUsageCSV(w io.Writer, rows []UsageRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"month", "feed", "key_id", "kind", "label", "events", "bytes", "over_quota", "rate_limited",
		"connections", "connected_seconds", "deliveries", "ingest_pings"})
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	for _, r := range rows {
		_ = cw.Write([]string{r.Month, r.Feed, r.KeyID, r.Kind, r.Label, i(r.Events), i(r.Bytes), i(r.OverQuota),
			i(r.RateLimited), u(r.Connections), i(r.ConnectedSeconds), u(r.Deliveries), i(r.IngestPings)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write usage CSV: %w", err)
	}
	return nil
}
