package sim

import (
	"encoding/base64"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// newAmazonOfferID returns a realistic offer listing id in its decoded form:
// standard base64 of ~126 opaque bytes, like the ids on real pages. It
// always contains '+' or '/', so a monitor that forgets to URL-decode the
// hidden input (which Amazon shows URL-encoded) is caught by the tests.
func newAmazonOfferID(rng *rand.Rand) string {
	buf := make([]byte, 126)
	for {
		for i := range buf {
			buf[i] = byte(rng.UintN(256))
		}
		s := base64.StdEncoding.EncodeToString(buf)
		if strings.ContainsAny(s, "+/") {
			return s
		}
	}
}

// newWalmartOfferID returns 32 upper-case hex digits.
func newWalmartOfferID(rng *rand.Rand) string {
	var buf [16]byte
	for i := range buf {
		buf[i] = byte(rng.UintN(256))
	}
	return strings.ToUpper(hex.EncodeToString(buf[:]))
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// derivedAmazonMerchant makes a stable third-party merchant id ("A" and 13
// upper-case alphanumerics, like A2JZ0S3QVWQECL) from a seed string.
func derivedAmazonMerchant(seed string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := hash64("merchant", seed)
	var b [14]byte
	b[0] = 'A'
	for i := 1; i < len(b); i++ {
		b[i] = alphabet[h%uint64(len(alphabet))]
		h = h/uint64(len(alphabet)) ^ (h << 7) ^ uint64(i)*0x9E3779B97F4A7C15
	}
	return string(b[:])
}

// derivedHex32 makes a stable 32-hex id (Walmart third-party seller ids).
func derivedHex32(seed string) string {
	a, b := hash64("hex-a", seed), hash64("hex-b", seed)
	return strings.ToUpper(hex.EncodeToString([]byte{
		byte(a >> 56), byte(a >> 48), byte(a >> 40), byte(a >> 32), byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a),
		byte(b >> 56), byte(b >> 48), byte(b >> 40), byte(b >> 32), byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b),
	}))
}

// derivedAmazonOfferID makes a stable, decoded offer id for the extra
// marketplace offer shown in the All Offers Display.
func derivedAmazonOfferID(seed string) string {
	rng := rand.New(rand.NewPCG(hash64("aod", seed), 0x5EED))
	return newAmazonOfferID(rng)
}

// thirdPartyNames are merchant names for sellers the catalog does not name.
var thirdPartyNames = []string{"TechDeals Direct", "Nordic Gadget Trading", "Bright Star Retail", "Kyoto Select", "Mercado Plus"}

func derivedMerchantName(seed string) string {
	return thirdPartyNames[hash64("name", seed)%uint64(len(thirdPartyNames))]
}
