package bench

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

type gotFrame struct {
	fin     bool
	op      byte
	payload string
}

func collect(t *testing.T, s *FrameScanner, chunks ...[]byte) ([]gotFrame, error) {
	t.Helper()
	var got []gotFrame
	for _, c := range chunks {
		if err := s.Feed(c, func(f Frame) {
			got = append(got, gotFrame{f.Fin, f.OpCode, string(f.Payload)})
		}); err != nil {
			return got, err
		}
	}
	return got, nil
}

// serverFrame builds an unmasked frame with any opcode and fin bit.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var out []byte
	switch n := len(payload); {
	case n <= 125:
		out = []byte{b0, byte(n)}
	case n <= 0xffff:
		out = []byte{b0, 126, byte(n >> 8), byte(n)}
	default:
		out = []byte{b0, 127, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(out[2:], uint64(n))
	}
	return append(out, payload...)
}

func TestFrameScanner(t *testing.T) {
	long := bytes.Repeat([]byte("y"), 70000)
	mid := bytes.Repeat([]byte("x"), 600)
	tests := []struct {
		name    string
		chunks  [][]byte
		want    []gotFrame
		wantErr bool
		pending int
	}{
		{name: "one small frame", chunks: [][]byte{serverFrame(true, opText, []byte("hi"))},
			want: []gotFrame{{true, opText, "hi"}}},
		{name: "three frames in one read", chunks: [][]byte{append(append(serverFrame(true, opText, []byte("a")),
			serverFrame(true, opText, mid)...), serverFrame(true, opPing, []byte("p"))...)},
			want: []gotFrame{{true, opText, "a"}, {true, opText, string(mid)}, {true, opPing, "p"}}},
		{name: "16-bit length split inside header", chunks: [][]byte{serverFrame(true, opText, mid)[:3], serverFrame(true, opText, mid)[3:]},
			want: []gotFrame{{true, opText, string(mid)}}},
		{name: "64-bit length", chunks: [][]byte{serverFrame(true, opBinary, long)},
			want: []gotFrame{{true, opBinary, string(long)}}},
		{name: "incomplete frame stays pending", chunks: [][]byte{serverFrame(true, opText, mid)[:100]},
			pending: 100},
		{name: "fragmented message", chunks: [][]byte{append(serverFrame(false, opText, []byte("ab")), serverFrame(true, opContinuation, []byte("cd"))...)},
			want: []gotFrame{{false, opText, "ab"}, {true, opContinuation, "cd"}}},
		{name: "masked frame rejected", chunks: [][]byte{{0x81, 0x82, 1, 2, 3, 4, 'a', 'b'}}, wantErr: true},
		{name: "reserved bits rejected", chunks: [][]byte{{0xC1, 0x00}}, wantErr: true},
		{name: "reserved opcode rejected", chunks: [][]byte{{0x83, 0x00}}, wantErr: true},
		{name: "fragmented control rejected", chunks: [][]byte{{0x09, 0x00}}, wantErr: true},
		{name: "long control rejected", chunks: [][]byte{{0x89, 126, 0, 200}}, wantErr: true},
		{name: "oversized frame rejected", chunks: [][]byte{{0x81, 127, 0, 0, 0, 0, 0x7f, 0, 0, 0}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s FrameScanner
			got, err := collect(t, &s, tt.chunks...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d frames, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("frame %d = %+v, want %+v", i, got[i].op, tt.want[i].op)
				}
			}
			if !tt.wantErr && s.Pending() != tt.pending {
				t.Errorf("pending = %d, want %d", s.Pending(), tt.pending)
			}
		})
	}
}

// TestFrameScannerEverySplit feeds a stream of frames cut at every
// position (and byte by byte): the frames seen never change.
func TestFrameScannerEverySplit(t *testing.T) {
	var stream []byte
	var want []gotFrame
	for i, n := range []int{0, 1, 125, 126, 600, 65535, 65536} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		stream = append(stream, serverFrame(true, opText, p)...)
		want = append(want, gotFrame{true, opText, string(p)})
	}
	check := func(name string, chunks [][]byte) {
		var s FrameScanner
		got, err := collect(t, &s, chunks...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d frames, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: frame %d differs (len %d, want %d)", name, i, len(got[i].payload), len(want[i].payload))
			}
		}
		if s.Pending() != 0 {
			t.Fatalf("%s: %d bytes left pending", name, s.Pending())
		}
	}
	for cut := 0; cut <= len(stream); cut += 997 {
		check("cut", [][]byte{stream[:cut], stream[cut:]})
	}
	for cut := 0; cut < 20; cut++ { // every header boundary of the first frames
		check("head cut", [][]byte{stream[:cut], stream[cut:]})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		var chunks [][]byte
		for rest := stream; len(rest) > 0; {
			n := min(1+r.IntN(3000), len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		check("random", chunks)
	}
	small := stream[:2000]
	var bytewise [][]byte
	for i := range small {
		bytewise = append(bytewise, small[i:i+1])
	}
	var s FrameScanner
	got, err := collect(t, &s, bytewise...)
	// 2,000 bytes hold the frames of 0, 1, 125, 126 and 600 bytes (866
	// bytes) and the start of the next.
	if err != nil || len(got) != 5 || got[4].payload != want[4].payload || s.Pending() != 2000-866 {
		t.Fatalf("byte by byte: %d frames, pending %d, err %v", len(got), s.Pending(), err)
	}
}

func TestFrameScannerAllocs(t *testing.T) {
	frame := serverFrame(true, opText, []byte(`{"offerId":"`+markerString(3, 12345)+`"}`))
	stream := bytes.Repeat(frame, 8)
	cut := len(frame)*3 + 5
	var s FrameScanner
	n := 0
	fn := func(Frame) { n++ }
	_ = s.Feed(stream[:cut], fn) // warm the carry buffer
	_ = s.Feed(stream[cut:], fn)
	allocs := testing.AllocsPerRun(100, func() {
		_ = s.Feed(stream[:cut], fn)
		_ = s.Feed(stream[cut:], fn)
	})
	if allocs != 0 {
		t.Errorf("Feed allocates %.1f times per split stream, want 0", allocs)
	}
}

func FuzzFrameScanner(f *testing.F) {
	f.Add(serverFrame(true, opText, []byte(`{"offerId":"bench-00000001-0000000000000000001"}`)), uint16(3))
	f.Add(append(serverFrame(true, opText, bytes.Repeat([]byte("z"), 300)), serverFrame(true, opPing, nil)...), uint16(130))
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(1))
	f.Add([]byte{0x81, 126, 0x01}, uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		c := int(cut) % (len(data) + 1)
		var whole, split FrameScanner
		whole.MaxPayload, split.MaxPayload = 1<<16, 1<<16
		var a, b []gotFrame
		errA := whole.Feed(data, func(f Frame) { a = append(a, gotFrame{f.Fin, f.OpCode, string(f.Payload)}) })
		errB := split.Feed(data[:c], func(f Frame) { b = append(b, gotFrame{f.Fin, f.OpCode, string(f.Payload)}) })
		if errB == nil {
			errB = split.Feed(data[c:], func(f Frame) { b = append(b, gotFrame{f.Fin, f.OpCode, string(f.Payload)}) })
		}
		if (errA == nil) != (errB == nil) {
			t.Fatalf("whole err %v, split at %d err %v", errA, c, errB)
		}
		if len(a) != len(b) {
			t.Fatalf("whole gave %d frames, split at %d gave %d", len(a), c, len(b))
		}
		consumed := 0
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("frame %d differs between whole and split feeds", i)
			}
			if len(a[i].payload) > 1<<16 {
				t.Fatalf("frame %d exceeds MaxPayload", i)
			}
			consumed += len(a[i].payload) + 2
		}
		if errA == nil {
			if consumed+whole.Pending() > len(data) {
				t.Fatalf("frames (%d bytes at least) plus pending %d exceed the %d input bytes", consumed, whole.Pending(), len(data))
			}
			if whole.Pending() != split.Pending() {
				t.Fatalf("pending %d whole vs %d split", whole.Pending(), split.Pending())
			}
		}
	})
}
