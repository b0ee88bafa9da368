package fingerprint

import (
	_ "embed"
	"encoding/base64"
	"strings"
)

// Published fingerprints of a real browser, to compare a client with.
type Published struct {
	Browser    string
	JA3        string // of the one captured handshake (extension order varies)
	JA3Hash    string
	JA3N       string // extensions sorted: the same for every handshake
	JA3NHash   string
	JA4        string
	JA4R       string
	Akamai     string // HTTP/2
	AkamaiHash string
}

// Chrome151 is Chrome 151.0.7922.174 on Windows as published with its raw
// ClientHello (testdata/chrome151-windows.clienthello.b64, from the curlpro
// project's reference/chrome-151-windows.json: six handshakes, one JA4, six
// JA3 hashes). JA3N is assembled from the published fields (cipher suites,
// extensions_normalized, supported groups); the Akamai string is the one
// published with it. Chrome 147 put ML-DSA first in signature_algorithms,
// which moved JA4_c from d8a2da3f94cd (Chrome 133–146) to 806a8c22fdea.
var Chrome151 = Published{
	Browser:    "Chrome 151",
	JA3N:       "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-5-10-11-13-16-18-23-27-35-43-45-51-17613-65037-65281,4588-29-23-24,0",
	JA3NHash:   "8e19337e7524d2573be54efb2b0784c9",
	JA4:        "t13d1516h2_8daaf6152771_806a8c22fdea",
	Akamai:     "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p",
	AkamaiHash: "52d84b11737d980aef856699f885ca86",
}

// Chrome151JA3Hashes are the JA3 hashes of the six published Chrome 151
// handshakes: one per extension order.
var Chrome151JA3Hashes = []string{
	"3c8e57318212c0db4c31b846dbae2108", "5d87cd2ee0e52cfc6bcf9f58f50e7186", "660278303c0d5006dd5b913e9353ab61",
	"8f6df4317b3bb304fa6505f918dc457b", "c499901c396a7bd2fefd198845b6dc83", "dd08378fb23bbb37fb6c4a7cd62a24fb",
}

// Chrome143 is Chrome 143 on Windows as tls.browserleaks.com reported it
// (ja3_text, ja3_hash, ja3n_text, ja3n_hash, ja4, ja4_r, akamai_text,
// akamai_hash of one visit). Chrome 133 to 146 share the JA4 and Akamai
// values; utls v1.8.2's HelloChrome_133 is that ClientHello.
var Chrome143 = Published{
	Browser:    "Chrome 143",
	JA3:        "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0",
	JA3Hash:    "98487aa16281980e7d1120d399efb6a4",
	JA3N:       "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,0-5-10-11-13-16-18-23-27-35-43-45-51-17613-65037-65281,4588-29-23-24,0",
	JA3NHash:   "8e19337e7524d2573be54efb2b0784c9",
	JA4:        "t13d1516h2_8daaf6152771_d8a2da3f94cd",
	JA4R:       "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
	Akamai:     "1:65536;2:0;4:6291456;6:262144|15663105|0|m,a,s,p",
	AkamaiHash: "52d84b11737d980aef856699f885ca86",
}

//go:embed testdata/chrome151-windows.clienthello.b64
var chrome151Raw string

// Chrome151ClientHello returns the published raw ClientHello record of
// Chrome 151 (Chrome151's capture).
func Chrome151ClientHello() []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(chrome151Raw))
	if err != nil {
		panic("fingerprint: bad embedded capture: " + err.Error())
	}
	return b
}
