package soak

import (
	"fmt"
	"image/color"
	"os"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

const csvHeader = "seconds,rss_bytes,fds,goroutines,conns,deliveries_total,published_total," +
	"canary_accepted,canary_received,canary_lost,churn_connects,churn_pings,churn_errors,rotations,revocations,key_faults"

func (s Sample) csv() string {
	return fmt.Sprintf("%.0f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d",
		s.At.Seconds(), s.RSS, s.FDs, s.Goroutines, s.Conns, s.Deliveries, s.Published,
		s.Accepted, s.Received, s.Lost, s.ChurnConnects, s.ChurnPings, s.ChurnErrors, s.Rotations, s.Revocations, s.KeyFaults)
}

func (s Sample) String() string {
	return fmt.Sprintf("t=%-6s rss=%.1fMiB fds=%d goroutines=%d conns=%d deliveries=%d published=%d canary=%d/%d lost=%d churn=%d (%d pings, %d errors) rotations=%d revocations=%d keyfaults=%d",
		s.At.Truncate(time.Second), float64(s.RSS)/(1<<20), s.FDs, s.Goroutines, s.Conns, s.Deliveries, s.Published,
		s.Received, s.Accepted, s.Lost, s.ChurnConnects, s.ChurnPings, s.ChurnErrors, s.Rotations, s.Revocations, s.KeyFaults)
}

// WriteChart draws RSS, open fds and goroutines over time, one panel each,
// into a PNG at path.
func WriteChart(path string, samples []Sample, took time.Duration) error {
	panels := []struct {
		title string
		y     string
		val   func(Sample) float64
		col   color.Color
	}{
		{"server RSS", "MiB", func(s Sample) float64 { return float64(s.RSS) / (1 << 20) }, color.RGBA{R: 200, A: 255}},
		{"server open fds", "fds", func(s Sample) float64 { return float64(s.FDs) }, color.RGBA{B: 200, A: 255}},
		{"server goroutines", "goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, color.RGBA{G: 140, A: 255}},
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s (soak, %s)", pn.title, took.Round(time.Second))
		p.X.Label.Text = "minutes"
		p.Y.Label.Text = pn.y
		p.Y.Min = 0
		pts := make(plotter.XYs, len(samples))
		for j, s := range samples {
			pts[j] = plotter.XY{X: s.At.Minutes(), Y: pn.val(s)}
			p.Y.Max = max(p.Y.Max, pts[j].Y*1.15)
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("chart %s: %w", pn.title, err)
		}
		line.Color = pn.col
		line.Width = vg.Points(1.5)
		p.Add(line, plotter.NewGrid())
		plots[i] = []*plot.Plot{p}
	}
	img := vgimg.New(10*vg.Inch, 10*vg.Inch)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// Summary is the result as text for the console and docs.
func (r Result) Summary() string {
	var b strings.Builder
	if n := len(r.Samples); n > 0 {
		first, last := r.Samples[0], r.Samples[n-1]
		fmt.Fprintf(&b, "duration %s, %d samples\n", r.Took.Round(time.Second), n)
		fmt.Fprintf(&b, "start: %s\nend:   %s\n", first, last)
	}
	if r.After != nil {
		fmt.Fprintf(&b, "after: %s\n", *r.After)
	}
	for _, g := range r.Growth {
		fmt.Fprintf(&b, "%s\n", g)
	}
	for i, v := range r.Canaries {
		fmt.Fprintf(&b, "canary %d: %s\n", i, v)
	}
	if r.Passed() {
		b.WriteString("PASS\n")
	} else {
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "FAIL: %s\n", f)
		}
	}
	return b.String()
}
