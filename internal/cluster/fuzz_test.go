package cluster

import (
	"bytes"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"
)

// FuzzDeliver: whatever arrives on the ping subject (another publisher,
// a corrupt message), the subscriber never panics, forwards only messages
// with a site and a JSON object body, and frames them byte for byte.
func FuzzDeliver(f *testing.F) {
	m := testPing(f, 0)
	f.Add("amazon", "USA", "1732519800000000000", m.Payload)
	f.Add("walmart", "", "", []byte(`{"site":"walmart","sku":"123"}`))
	f.Add("", "USA", "x", []byte(`{}`))
	f.Add("amazon", "USA", "-1", []byte("not json"))
	f.Add("amazon", "", "9223372036854775807", []byte{})
	set := metrics.NewSet()
	c := &Cluster{log: testLogger(f), bus: newBusMetrics(set)}
	f.Fuzz(func(t *testing.T, site, region, sent string, data []byte) {
		hub := &recordingHub{}
		msg := &nats.Msg{Data: data, Header: nats.Header{hdrSite: {site}, hdrRegion: {region}, hdrSent: {sent}}}
		c.deliver(hub, msg)
		got := hub.all()
		forward := site != "" && len(data) > 0 && data[0] == '{'
		if forward != (len(got) == 1) || len(got) > 1 {
			t.Fatalf("site %q body %q: forwarded %d messages", site, data, len(got))
		}
		if forward {
			g := got[0]
			if g.Site != site || g.Region != region || !bytes.Equal(g.Payload, data) || !bytes.HasSuffix(g.Frame, data) || len(g.Frame) <= len(data) {
				t.Fatalf("forwarded %+v for site %q region %q body %q", g, site, region, data)
			}
		}
	})
}
