package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a chart: a label and (N, value) points.
type series struct {
	label string
	pts   plotter.XYs
}

// collect builds one series per server (and suffix) from the runs that
// match regime ("" = any), skipping runs with no value.
func (rep *Report) collect(regime, suffix string, val func(*RunResult) (float64, bool)) []series {
	byName := map[string]*series{}
	var order []string
	for _, r := range rep.Runs {
		if regime != "" && r.Regime != regime {
			continue
		}
		v, ok := val(r)
		if !ok {
			continue
		}
		name := r.Server + suffix
		s := byName[name]
		if s == nil {
			s = &series{label: name}
			byName[name] = s
			order = append(order, name)
		}
		if !slices.ContainsFunc(s.pts, func(p plotter.XY) bool { return p.X == float64(r.N) }) {
			s.pts = append(s.pts, plotter.XY{X: float64(r.N), Y: v})
		}
	}
	out := make([]series, 0, len(order))
	for _, n := range order {
		s := byName[n]
		slices.SortFunc(s.pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
		out = append(out, *s)
	}
	return out
}

// chartPNG renders a line chart of the series as a base64 PNG.
func chartPNG(title, ylabel string, logY bool, ss []series) (string, error) {
	if len(ss) == 0 {
		return "", nil
	}
	p := plot.New()
	if logY {
		// Latencies span 1 ms to seconds: a log axis keeps both readable.
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		for _, s := range ss {
			for i := range s.pts {
				s.pts[i].Y = max(s.pts[i].Y, 0.01)
			}
		}
	} else {
		p.Y.Min = 0
	}
	p.Title.Text = title
	p.X.Label.Text = "connections (N)"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = true
	var args []any
	for _, s := range ss {
		args = append(args, s.label, s.pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return "", fmt.Errorf("chart %q: %w", title, err)
	}
	wt, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return "", fmt.Errorf("chart %q: %w", title, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart %q: %w", title, err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

type chart struct {
	Title string
	PNG   string
}

// charts are the report's figures: latency vs N per regime, memory per
// connection, CPU per delivery, ours against the baselines and the floor.
func (rep *Report) charts() ([]chart, error) {
	msOf := func(f func(*RunResult) int64) func(*RunResult) (float64, bool) {
		return func(r *RunResult) (float64, bool) { v := f(r); return float64(v) / 1000, r.Delivered > 0 }
	}
	type spec struct {
		title, ylabel string
		ss            []series
		logY          bool
	}
	var specs []spec
	for _, rg := range rep.Regimes {
		var ss []series
		ss = append(ss, rep.collect(rg, " p50", msOf(func(r *RunResult) int64 { return r.Latency.P50 }))...)
		ss = append(ss, rep.collect(rg, " p99", msOf(func(r *RunResult) int64 { return r.Latency.P99 }))...)
		ss = append(ss, rep.collect(rg, " max", msOf(func(r *RunResult) int64 { return r.Latency.Max }))...)
		specs = append(specs, spec{"Latency, " + rg + " (all deliveries)", "ms", ss, true})
		specs = append(specs, spec{"Last client per ping (pass time), " + rg + ", median over pings", "ms",
			rep.collect(rg, "", msOf(func(r *RunResult) int64 { return r.LastClient.P50 })), true})
	}
	specs = append(specs, spec{"Server memory per idle connection", "KiB",
		rep.collect(RegimeSteady, "", func(r *RunResult) (float64, bool) {
			return r.MemPerConnBytes / 1024, r.ServerRSSConnectedBytes > 0 && r.Kind != KindFloor
		}), false})
	var cpu []series
	for _, rg := range rep.Regimes {
		cpu = append(cpu, rep.collect(rg, " "+rg, func(r *RunResult) (float64, bool) {
			return r.ServerCPUPerDeliveryUS, r.Delivered > 0 && r.ServerCPUMS > 0 && r.Kind != KindFloor
		})...)
	}
	specs = append(specs, spec{"Server CPU per delivery", "µs", cpu, false})
	var out []chart
	for _, s := range specs {
		png, err := chartPNG(s.title, s.ylabel, s.logY, s.ss)
		if err != nil {
			return nil, err
		}
		if png != "" {
			out = append(out, chart{Title: s.title, PNG: png})
		}
	}
	return out, nil
}

var reportTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stellarfeed bench</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f4f4f4}
td:first-child,td:nth-child(2){text-align:left}
tr.bad td{background:#fde8e8}
img{display:block;margin:1em 0;max-width:100%}
</style></head><body>
<h1>stellarfeed bench</h1>
<p>{{.Rep.StartedAt.Format "2006-01-02 15:04:05 MST"}} · {{.Rep.CPUs}} CPUs · {{.Rep.GoVersion}} ·
M = {{.Rep.Pings}} pings of {{.Rep.PingSize}} bytes per regime · clients on the same machine.</p>
<table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr{{if .Bad}} class="bad"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{range .Rep.Skipped}}<p>Skipped: {{.}}</p>{{end}}
<pre>{{.Notes}}</pre>
{{range .Charts}}<h2>{{.Title}}</h2><img alt="{{.Title}}" src="data:image/png;base64,{{.PNG}}">
{{end}}</body></html>
`))

type htmlRow struct {
	Cells []string
	Bad   bool
}

// HTML renders report.html: the table and the charts, images inline, no
// external resources.
func (rep *Report) HTML() ([]byte, error) {
	charts, err := rep.charts()
	if err != nil {
		return nil, err
	}
	head, rows := rep.tableRows()
	hr := make([]htmlRow, len(rows))
	for i, r := range rows {
		hr[i] = htmlRow{Cells: r, Bad: !rep.Runs[i].OK()}
	}
	var md strings.Builder
	rep.WriteMarkdown(&md)
	notes := md.String()
	if i := strings.Index(notes, "\nLatency runs"); i >= 0 {
		notes = notes[i:]
	}
	if i := strings.Index(notes, "\nSkipped"); i >= 0 {
		notes = notes[:i]
	}
	notes = strings.TrimSpace(notes)
	var buf bytes.Buffer
	err = reportTmpl.Execute(&buf, map[string]any{"Rep": rep, "Head": head, "Rows": hr, "Charts": charts, "Notes": notes})
	if err != nil {
		return nil, fmt.Errorf("report.html: %w", err)
	}
	return buf.Bytes(), nil
}
