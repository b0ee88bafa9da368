package bench

import (
	"bytes"
	"fmt"

	"strings"
)

// markerPrefix starts the token that carries a ping's sequence number and
// send time through the server: "bench-<seq>-<unixnano>". It travels in
// offerId, a field Stellar allows and every server forwards unchanged.
const markerPrefix = "bench-"

// seqWidth and timeWidth fix the marker's width so every ping of a run has
// exactly the same size, whatever its number and send time.
const (
	seqWidth  = 8
	timeWidth = 19
)

// pingTemplate is one ping body with a placeholder marker; stamp rewrites
// the marker in place before each send.
type pingTemplate struct {
	body   []byte
	offset int // where the marker's digits start
}

// newPingTemplate builds an Amazon USA ping padded so the JSON body is
// about size bytes (never below the unpadded minimum).
func newPingTemplate(size int) pingTemplate {
	const head = `{"site":"amazon","region":"USA","sku":"B0DR8G428S","offerId":"`
	marker := markerPrefix + strings.Repeat("0", seqWidth) + "-" + strings.Repeat("0", timeWidth)
	mid := `","details":{"productTitle":"`
	img := `","productImage":"https://m.media-amazon.com/images/I/71bench-restock.jpg`
	tail := `","productPrice":"35.99"}}`
	base := len(head) + len(marker) + len(mid) + len(img) + len(tail)
	title := "Stellar bench restock"
	if pad := size - base - len(title); pad > 0 {
		// Printable padding only: the title must pass Stellar's rules,
		// which cap it at 512 bytes; the image URL takes the rest.
		title += " " + strings.Repeat("x", min(pad, 512-len(title))-1)
		if pad := size - base - len(title); pad > 5 {
			img += "?pad=" + strings.Repeat("x", pad-5)
		}
	}
	b := []byte(head + marker + mid + title + img + tail)
	return pingTemplate{body: b, offset: len(head) + len(markerPrefix)}
}

// stamp writes seq and the send time into the template and returns the
// body (shared: valid until the next stamp).
func (t *pingTemplate) stamp(seq int, unixNano int64) []byte {
	putPadded(t.body[t.offset:t.offset+seqWidth], uint64(seq))
	putPadded(t.body[t.offset+seqWidth+1:t.offset+seqWidth+1+timeWidth], uint64(unixNano))
	return t.body
}

// putPadded writes v in decimal, zero-padded to len(dst).
func putPadded(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// parseMarker finds "bench-<seq>-<unixnano>" in a payload without
// allocating. ok is false when the payload carries no well-formed marker.
func parseMarker(p []byte) (seq int, sent int64, ok bool) {
	i := bytes.Index(p, []byte(markerPrefix))
	if i < 0 {
		return 0, 0, false
	}
	p = p[i+len(markerPrefix):]
	s, n := parseDigits(p)
	if n == 0 || n > 9 || n >= len(p) || p[n] != '-' {
		return 0, 0, false
	}
	t, m := parseDigits(p[n+1:])
	if m == 0 || m > 19 {
		return 0, 0, false
	}
	return int(s), int64(t), true
}

func parseDigits(p []byte) (uint64, int) {
	var v uint64
	n := 0
	for n < len(p) && p[n] >= '0' && p[n] <= '9' && n < 19 {
		v = v*10 + uint64(p[n]-'0')
		n++
	}
	return v, n
}

// markerString is the marker for seq and t, for tests and faulty servers.
func markerString(seq int, t int64) string {
	return markerPrefix + fmt.Sprintf("%0*d-%0*d", seqWidth, seq, timeWidth, t)
}
