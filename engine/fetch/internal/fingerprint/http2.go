package fingerprint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP2 is what a client's opening HTTP/2 frames show, up to and including
// its first request's headers.
type HTTP2 struct {
	Settings     []http2.Setting // the first SETTINGS, in order
	WindowUpdate uint32          // the first WINDOW_UPDATE on stream 0; 0 if none came first
	Priorities   []string        // PRIORITY frames: "stream:exclusive:dependsOn:weight"
	// HeadersPriority is the first HEADERS frame's priority, in the same
	// form ("" without the PRIORITY flag). The Akamai string leaves it out.
	HeadersPriority string
	Headers         []hpack.HeaderField // the first request's, in order
}

// ParseHTTP2 reads b, the bytes a client sent on an HTTP/2 connection from
// the preface on, until its first complete header block.
func ParseHTTP2(b []byte) (*HTTP2, error) {
	if !bytes.HasPrefix(b, []byte(http2.ClientPreface)) {
		return nil, errors.New("no HTTP/2 client preface")
	}
	fr := http2.NewFramer(io.Discard, bytes.NewReader(b[len(http2.ClientPreface):]))
	fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	fr.MaxHeaderListSize = 1 << 20
	h := &HTTP2{}
	sawSettings := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, fmt.Errorf("before the first request's headers: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() || sawSettings {
				continue
			}
			sawSettings = true
			f.ForeachSetting(func(s http2.Setting) error {
				h.Settings = append(h.Settings, s)
				return nil
			})
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 && h.WindowUpdate == 0 {
				h.WindowUpdate = f.Increment
			}
		case *http2.PriorityFrame:
			h.Priorities = append(h.Priorities, priority(f.StreamID, f.PriorityParam))
		case *http2.MetaHeadersFrame:
			if f.HasPriority() {
				h.HeadersPriority = priority(f.StreamID, f.Priority)
			}
			h.Headers = f.Fields
			return h, nil
		}
	}
}

func priority(stream uint32, p http2.PriorityParam) string {
	excl := 0
	if p.Exclusive {
		excl = 1
	}
	// Akamai quotes the weight as 1–256, the wire carries weight-1.
	return fmt.Sprintf("%d:%d:%d:%d", stream, excl, p.StreamDep, int(p.Weight)+1)
}

// Akamai returns the Akamai HTTP/2 fingerprint
// "SETTINGS|WINDOW_UPDATE|PRIORITY|pseudo-header order", e.g. Chrome's
// "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p". Missing parts are
// "00" (no WINDOW_UPDATE) and "0" (no PRIORITY frames).
func (h *HTTP2) Akamai() string {
	settings := make([]string, len(h.Settings))
	for i, s := range h.Settings {
		settings[i] = strconv.Itoa(int(s.ID)) + ":" + strconv.FormatUint(uint64(s.Val), 10)
	}
	wu := "00"
	if h.WindowUpdate != 0 {
		wu = strconv.FormatUint(uint64(h.WindowUpdate), 10)
	}
	prio := "0"
	if len(h.Priorities) > 0 {
		prio = strings.Join(h.Priorities, ",")
	}
	var pseudo []string
	for _, f := range h.Headers {
		if strings.HasPrefix(f.Name, ":") && len(f.Name) > 1 {
			pseudo = append(pseudo, f.Name[1:2])
		}
	}
	return strings.Join(settings, ";") + "|" + wu + "|" + prio + "|" + strings.Join(pseudo, ",")
}

// HeaderOrder returns the names of the first request's regular headers.
func (h *HTTP2) HeaderOrder() []string {
	var out []string
	for _, f := range h.Headers {
		if !strings.HasPrefix(f.Name, ":") {
			out = append(out, f.Name)
		}
	}
	return out
}
