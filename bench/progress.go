package bench

import (
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress draws bars on a terminal and nothing otherwise (mpb renders
// only to a TTY), so CI logs stay clean. A nil *progress draws nothing.
type progress struct{ p *mpb.Progress }

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	return &progress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
}

// bar is one progress bar; all methods are safe on a nil bar.
type bar struct{ b *mpb.Bar }

func (p *progress) bar(name string, total int64) *bar {
	if p == nil {
		return nil
	}
	return &bar{b: p.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)),
	)}
}

func (b *bar) set(n int64) {
	if b != nil {
		b.b.SetCurrent(n)
	}
}

// done completes the bar at its current count (a run with losses ends
// short of its total).
func (b *bar) done() {
	if b != nil && !b.b.Completed() {
		b.b.SetTotal(-1, true)
	}
}

func (p *progress) wait() {
	if p != nil {
		p.p.Wait()
	}
}

// switchWriter sends log lines above the live bars while a container is
// running (so bars are not torn apart by logs) and to def otherwise.
type switchWriter struct {
	mu  sync.Mutex
	def io.Writer
	p   *mpb.Progress
}

func (w *switchWriter) set(p *progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p = nil
	if p != nil {
		w.p = p.p
	}
}

func (w *switchWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	p := w.p
	w.mu.Unlock()
	if p != nil {
		if n, err := p.Write(b); err == nil {
			return n, nil
		}
	}
	return w.def.Write(b)
}
