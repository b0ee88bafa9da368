package console

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// series is one line of the Prometheus text format: a metric name, its
// labels and a value. The console reads the node's own /metrics output
// rather than each component's counters, so it sees exactly what
// Prometheus and the Grafana dashboard see, and no component learns of it.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// reading is one scrape of the node's metrics.
type reading []series

// parseProm reads the Prometheus text exposition format as
// VictoriaMetrics/metrics writes it. Comment lines are skipped; a line it
// cannot read is an error naming the line, since the input is our own.
func parseProm(data []byte) (reading, error) {
	var out reading
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, err := parseSeries(string(line))
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseSeries(line string) (series, error) {
	var s series
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		s.name = line[:i]
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return s, fmt.Errorf("unclosed label set in %q", clip(line))
		}
		labels, err := parseLabels(line[i+1 : j])
		if err != nil {
			return s, fmt.Errorf("%w in %q", err, clip(line))
		}
		s.labels, rest = labels, line[j+1:]
	} else {
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return s, fmt.Errorf("no value in %q", clip(line))
		}
		s.name, rest = line[:i], line[i:]
	}
	fields := strings.Fields(rest)
	if s.name == "" || len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("want name, labels, value in %q", clip(line))
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("value %q is not a number", clip(fields[0]))
	}
	s.value = v
	return s, nil
}

// parseLabels reads `a="x",b="y\"z"`.
func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, fmt.Errorf("malformed label")
		}
		name := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s, closed = s[i+1:], true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return nil, fmt.Errorf("unterminated label value")
		}
		labels[name] = val.String()
		s = strings.TrimPrefix(strings.TrimSpace(s), ",")
	}
	return labels, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// sum adds the values of every series named name whose labels include
// match (nil matches all).
func (r reading) sum(name string, match map[string]string) float64 {
	var t float64
	for _, s := range r {
		if s.name == name && matches(s.labels, match) {
			t += s.value
		}
	}
	return t
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// by sums the series named name by the value of one label.
func (r reading) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r {
		if s.name == name {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

// by2 sums the series named name by two labels.
func (r reading) by2(name, l1, l2 string) map[[2]string]float64 {
	out := map[[2]string]float64{}
	for _, s := range r {
		if s.name == name {
			out[[2]string{s.labels[l1], s.labels[l2]}] += s.value
		}
	}
	return out
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// buckets returns the cumulative buckets of a Prometheus histogram, sorted.
func (r reading) buckets(name string) []bucket {
	var out []bucket
	for _, s := range r {
		if s.name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(s.labels["le"], 64)
		if s.labels["le"] == "+Inf" {
			le, err = math.Inf(1), nil
		}
		if err == nil {
			out = append(out, bucket{le, s.value})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// quantile estimates the q-quantile of the observations between two
// readings of cumulative buckets (prev may be nil), interpolating inside
// the bucket as Prometheus' histogram_quantile does. NaN when nothing was
// observed.
func quantile(q float64, cur, prev []bucket) float64 {
	delta := make([]bucket, len(cur))
	for i, b := range cur {
		delta[i] = b
		for _, p := range prev {
			if p.le == b.le {
				delta[i].count -= p.count
			}
		}
	}
	if len(delta) == 0 || delta[len(delta)-1].count <= 0 {
		return math.NaN()
	}
	total := delta[len(delta)-1].count
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range delta {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower // the highest finite bound is the best we know
			}
			inBucket := b.count - below
			if inBucket <= 0 {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/inBucket
		}
		lower, below = b.le, b.count
	}
	return lower
}
