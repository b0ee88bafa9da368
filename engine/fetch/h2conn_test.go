package fetch

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/stellarfeed/stellarfeed/engine/fetch/internal/fingerprint"
)

// sinkConn is a net.Conn that keeps what is written.
type sinkConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *sinkConn) Write(p []byte) (int, error) { return c.buf.Write(p) }

// goClientFrames writes what x/net's client writes, in its order: the
// preface, SETTINGS (with MAX_FRAME_SIZE), WINDOW_UPDATE, a request's
// HEADERS (Go's pseudo-header order), a DATA frame; then a SETTINGS ACK
// and a second request whose block opens with a table size update (the
// server lowered SETTINGS_HEADER_TABLE_SIZE) and spans a CONTINUATION.
func goClientFrames(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384}, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: h2MaxHeaderListSize},
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: h2HeaderTableSize})
	fr.WriteWindowUpdate(0, h2ConnWindowIncrement)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	write := func(fields ...string) []byte {
		hb.Reset()
		for i := 0; i < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return bytes.Clone(hb.Bytes())
	}
	req := []string{":authority", "shop.example", ":method", "POST", ":path", "/dp/B0", ":scheme", "https",
		"accept-language", "de-DE", "x-monitor", "1", "user-agent", "UA", "sec-ch-ua", "brands", "accept", "text/html"}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: write(req...), EndHeaders: true})
	fr.WriteData(1, true, []byte("form=body"))
	fr.WriteSettingsAck()
	enc.SetMaxDynamicTableSizeLimit(1024)
	req[3], req[5] = "GET", "/dp/B1"
	block := write(append(slices.Clone(req), "x-big", strings.Repeat("b", 20000))...)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:100], EndStream: true})
	fr.WriteContinuation(3, true, block[100:])
	return buf.Bytes()
}

func TestH2ConnRewrites(t *testing.T) {
	in := goClientFrames(t)
	for _, chunk := range []int{1, 5, 9, 100, 4096, len(in)} {
		sink := &sinkConn{}
		h := newH2Conn(sink)
		for p := in; len(p) > 0; {
			k := min(chunk, len(p))
			if n, err := h.Write(p[:k]); n != k || err != nil {
				t.Fatalf("chunk %d: Write = %d, %v", chunk, n, err)
			}
			p = p[k:]
		}
		out := sink.buf.Bytes()
		fp, err := fingerprint.ParseHTTP2(out)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if got, want := fp.Akamai(), fingerprint.Chrome151.Akamai; got != want {
			t.Errorf("chunk %d: Akamai %s, want %s", chunk, got, want)
		}
		if got := fp.HeaderOrder(); !slices.Equal(got, []string{"sec-ch-ua", "user-agent", "accept", "x-monitor", "accept-language"}) {
			t.Errorf("chunk %d: header order %q", chunk, got)
		}

		// Every frame decodes, in order, with the server's view of the
		// header tables: the second block (after a table size update) too.
		fr := http2.NewFramer(io.Discard, bytes.NewReader(out[len(http2.ClientPreface):]))
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		var seen []string
		for {
			f, err := fr.ReadFrame()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("chunk %d: after %q: %v", chunk, seen, err)
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				seen = append(seen, "HEADERS "+f.PseudoValue("method")+" "+f.PseudoValue("path")+" "+strings.Repeat("b", min(1, len(headerValue(f, "x-big")))))
				if f.StreamID == 3 && len(headerValue(f, "x-big")) != 20000 {
					t.Errorf("chunk %d: x-big cut to %d", chunk, len(headerValue(f, "x-big")))
				}
			case *http2.DataFrame:
				seen = append(seen, "DATA "+string(f.Data()))
			default:
				seen = append(seen, f.Header().Type.String())
			}
		}
		want := []string{"SETTINGS", "WINDOW_UPDATE", "HEADERS POST /dp/B0 ", "DATA form=body", "SETTINGS", "HEADERS GET /dp/B1 b"}
		if !slices.Equal(seen, want) {
			t.Errorf("chunk %d: frames %q, want %q", chunk, seen, want)
		}
	}
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}
