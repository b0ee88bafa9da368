package broadcast

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/gobwas/ws"
)

// masked builds a masked client frame.
func masked(op ws.OpCode, fin bool, payload []byte) []byte {
	var buf bytes.Buffer
	f := ws.NewFrame(op, fin, append([]byte(nil), payload...))
	f = ws.MaskFrameInPlaceWith(f, [4]byte{1, 2, 3, 4})
	if err := ws.WriteFrame(&buf, f); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestParseFrame(t *testing.T) {
	big := make([]byte, 5000)
	unmasked := func(b []byte) []byte { b = append([]byte(nil), b...); b[1] &^= 0x80; return b }
	tests := []struct {
		name    string
		in      []byte
		op      ws.OpCode
		payload string
		n       int // 0 = incomplete
		code    ws.StatusCode
	}{
		{
			name:    "text",
			in:      masked(ws.OpText, true, []byte(`{"type":"ping"}`)),
			op:      ws.OpText,
			payload: `{"type":"ping"}`,
			n:       2 + 4 + 15,
		},
		{
			name:    "ping",
			in:      masked(ws.OpPing, true, []byte("abc")),
			op:      ws.OpPing,
			payload: "abc",
			n:       9,
		},
		{
			name:    "16-bit length",
			in:      masked(ws.OpBinary, true, make([]byte, 300)),
			op:      ws.OpBinary,
			n:       4 + 4 + 300,
			payload: string(make([]byte, 300)),
		},
		{
			name: "incomplete header",
			in:   []byte{0x81},
		},
		{
			name: "incomplete payload",
			in:   masked(ws.OpText, true, []byte("hello"))[:8],
		},
		{
			name: "unmasked",
			in:   unmasked(masked(ws.OpText, true, []byte("hi"))),
			code: ws.StatusProtocolError,
		},
		{
			name: "too big",
			in:   masked(ws.OpBinary, true, big)[:20],
			code: ws.StatusMessageTooBig,
		},
		{
			name: "64-bit length refused from header alone",
			in:   []byte{0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0},
			code: ws.StatusMessageTooBig,
		},
		{
			name: "reserved bits",
			in:   append([]byte{0xc1}, masked(ws.OpText, true, nil)[1:]...),
			code: ws.StatusProtocolError,
		},
		{
			name: "bad opcode",
			in:   append([]byte{0x83}, masked(ws.OpText, true, nil)[1:]...),
			code: ws.StatusProtocolError,
		},
		{
			name: "fragmented control",
			in:   masked(ws.OpPing, false, nil),
			code: ws.StatusProtocolError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := parseFrame(append([]byte(nil), tt.in...), 4096)
			if tt.code != 0 {
				if err == nil || err.code != tt.code {
					t.Fatalf("err %v, want code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n != tt.n {
				t.Fatalf("n = %d, want %d", n, tt.n)
			}
			if n > 0 && (f.op != tt.op || string(f.payload) != tt.payload) {
				t.Fatalf("got %v %q", f.op, f.payload)
			}
		})
	}
}

func TestCloseCode(t *testing.T) {
	code := func(c uint16) []byte { return binary.BigEndian.AppendUint16(nil, c) }
	f := func(p []byte, want ws.StatusCode, bad bool) {
		t.Helper()
		got, err := closeCode(p)
		if (err != nil) != bad || got != want {
			t.Errorf("closeCode(%v) = %d, %v", p, got, err)
		}
	}
	f(nil, 0, false)
	f([]byte{3}, 0, true)
	f(code(1000), 1000, false)
	f(code(4000), 4000, false)
	f(code(1005), 0, true)
	f(code(999), 0, true)
	f(code(5000), 0, true)
}

func TestIsJSONPing(t *testing.T) {
	f := func(in string, want bool) {
		t.Helper()
		if got := isJSONPing([]byte(in)); got != want {
			t.Errorf("isJSONPing(%q) = %v", in, got)
		}
	}
	f(`{"type":"ping"}`, true)
	f(" {\n\"type\" : \"ping\" }\r\n", true)
	f(`{"type":"pong"}`, false)
	f(`{"type":"ping","x":1}`, false)
	f(`{"type":"ping"`, false)
	f(``, false)
}

// FuzzParseFrame feeds arbitrary bytes to the frame parser: it must never
// panic, never claim more bytes than given, and respect the limit.
func FuzzParseFrame(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/frames/*.bin")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(masked(ws.OpText, true, []byte(`{"type":"ping"}`)))
	f.Add(masked(ws.OpClose, true, []byte{3, 0xe8}))
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1024
		rest := append([]byte(nil), b...)
		for len(rest) > 0 {
			fr, n, err := parseFrame(rest, limit)
			if err != nil || n == 0 {
				return
			}
			if n > len(rest) || len(fr.payload) > limit || len(fr.payload) > n {
				t.Fatalf("n=%d payload=%d of %d bytes", n, len(fr.payload), len(rest))
			}
			if fr.op >= ws.OpClose && (len(fr.payload) > 125 || !fr.fin) {
				t.Fatalf("bad control frame accepted: %v", fr.op)
			}
			if fr.op == ws.OpClose {
				if c, perr := closeCode(fr.payload); perr == nil && c != 0 && (c < 1000 || c >= 5000) {
					t.Fatalf("close code %d accepted", c)
				}
			}
			rest = rest[n:]
		}
	})
}
