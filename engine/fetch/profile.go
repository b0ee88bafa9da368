package fetch

import (
	utls "github.com/refraction-networking/utls"
	"golang.org/x/net/http2"
)

// The browser profile: what the browser client sends, in one place. To
// move to a newer Chrome, see docs/monitors-client.md: bump utls, pick its
// newest HelloChrome_N, compare the fingerprints the tests measure with a
// capture of that Chrome, and update the values below and the expected
// fingerprints in browser_test.go together.
const (
	// ProfileChromeVersion is the Chrome major version the user agents and
	// client hints claim. Chrome 133 to 143 send the same ClientHello (JA4
	// t13d1516h2_8daaf6152771_d8a2da3f94cd) and the same HTTP/2 preface
	// (Akamai 1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p), so utls'
	// HelloChrome_133 stands for all of them; browser_test.go checks both
	// against the published capture in internal/fingerprint.
	ProfileChromeVersion = "143"
)

// profileHello is the utls ClientHello: Chrome's cipher suites, extensions
// (shuffled per connection, as Chrome has done since 106), X25519MLKEM768
// key share, ALPS and GREASE ECH.
var profileHello = utls.HelloChrome_133

// h2Settings are Chrome's SETTINGS, in Chrome's order (ascending id).
// x/net's transport sends the same values once configured (see
// newBrowserClient) but in its own order and with MAX_FRAME_SIZE; the frame
// writer puts them in this order and leaves the rest out.
var h2Settings = []http2.SettingID{
	http2.SettingHeaderTableSize,   // 65536
	http2.SettingEnablePush,        // 0
	http2.SettingInitialWindowSize, // 6291456
	http2.SettingMaxHeaderListSize, // 262144
}

// Chrome's HTTP/2 values.
const (
	h2HeaderTableSize   = 65536
	h2StreamWindow      = 6291456
	h2MaxHeaderListSize = 262144
	// h2ConnWindowIncrement is the WINDOW_UPDATE Chrome sends on stream 0
	// right after its SETTINGS (a 15 MiB connection window).
	h2ConnWindowIncrement = 15663105
)

// h2PseudoOrder is Chrome's pseudo-header order ("m,a,s,p"); Go's is
// :authority, :method, :path, :scheme.
var h2PseudoOrder = []string{":method", ":authority", ":scheme", ":path"}
