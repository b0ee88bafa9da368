package fetch

import (
	"errors"
	"fmt"
	"slices"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/net/http2"
)

// The browser profile: what the browser client sends, in one place. To
// move to a newer Chrome, see docs/monitors-client.md: take a capture of
// that Chrome, make profileSpec and the values below produce it, and put
// the capture's fingerprints in internal/fingerprint for the tests.
const (
	// ProfileChromeVersion is the Chrome major version the user agents and
	// client hints claim, and whose ClientHello and HTTP/2 preface the
	// client sends: JA4 t13d1516h2_8daaf6152771_806a8c22fdea, Akamai
	// 1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p (browser_test.go
	// checks both against fingerprint.Chrome151, a published capture).
	ProfileChromeVersion = "151"
)

// mldsa are the ML-DSA signature schemes (draft-ietf-tls-mldsa) Chrome
// offers first since 147; utls v1.8.2 knows them as numbers only. No
// server picks them yet (no public CA issues ML-DSA certificates).
var mldsa = []utls.SignatureScheme{0x0904, 0x0905, 0x0906}

// profileSpec returns the ClientHello to send, built afresh per connection
// because building it shuffles the extensions (as Chrome does since 106):
// utls v1.8.2's newest Chrome preset, HelloChrome_133 (cipher suites,
// extensions, X25519MLKEM768 key share, ALPS, GREASE ECH, brotli
// certificate compression), with Chrome 147's signature algorithms. A
// capture of Chrome 151 differs from HelloChrome_133 in that list alone.
func profileSpec() (*utls.ClientHelloSpec, error) {
	spec, err := utls.UTLSIdToSpec(utls.HelloChrome_133)
	if err != nil {
		return nil, fmt.Errorf("utls preset: %w", err)
	}
	for _, ext := range spec.Extensions {
		if sa, ok := ext.(*utls.SignatureAlgorithmsExtension); ok {
			sa.SupportedSignatureAlgorithms = append(slices.Clone(mldsa), sa.SupportedSignatureAlgorithms...)
			return &spec, nil
		}
	}
	return nil, errors.New("utls preset has no signature_algorithms extension")
}

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
