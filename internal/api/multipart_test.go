package api

import (
	"strings"
	"testing"
)

// A multipart body is not parsed on anyone's behalf: without a token it is
// a 401, with one a 415, like any other content type that is not JSON.
func TestMultipartNotPreParsed(t *testing.T) {
	e := newEnv(t, Config{})
	body := []byte("--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + strings.Repeat("a", 1000) + "\r\n--x--\r\n")
	const ctype = "multipart/form-data; boundary=x"
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", []string{"Content-Type", ctype}, 401},
		{"ingest token", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", ctype}, 415},
		{"broken multipart", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "multipart/form-data; boundary=zz"}, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, resp, _ := e.do(t, "POST", "/api/pings", body, tt.hdr...)
			if code != tt.want {
				t.Fatalf("status %d %s, want %d", code, resp, tt.want)
			}
		})
	}
	if got := e.pub.take(); len(got) != 0 {
		t.Fatalf("%d pings published from multipart bodies", len(got))
	}
}
