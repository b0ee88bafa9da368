package fetch

import (
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/publicsuffix"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// DefaultUserAgents are used when Options.UserAgents is empty: desktop
// Chrome of the version whose ClientHello and HTTP/2 settings the browser
// client sends (see Profile), so that what the headers claim and what the
// handshake shows agree. A Firefox or Safari user agent over a Chrome
// handshake is itself a bot signal.
var DefaultUserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + ProfileChromeVersion + ".0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + ProfileChromeVersion + ".0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + ProfileChromeVersion + ".0.0.0 Safari/537.36",
}

// acceptLanguage maps a region to what a local browser sends.
var acceptLanguage = map[string]string{
	"USA": "en-US,en;q=0.9",
	"US":  "en-US,en;q=0.9",
	"UK":  "en-GB,en;q=0.9",
	"DE":  "de-DE,de;q=0.9,en;q=0.8",
	"FR":  "fr-FR,fr;q=0.9,en;q=0.8",
	"IT":  "it-IT,it;q=0.9,en;q=0.8",
	"ES":  "es-ES,es;q=0.9,en;q=0.8",
	"NL":  "nl-NL,nl;q=0.9,en;q=0.8",
	"BE":  "fr-BE,nl-BE;q=0.9,fr;q=0.8,nl;q=0.7,en;q=0.6",
	"PL":  "pl-PL,pl;q=0.9,en;q=0.8",
	"JP":  "ja-JP,ja;q=0.9,en;q=0.8",
	"CA":  "en-CA,en;q=0.9,fr-CA;q=0.8",
	"AU":  "en-AU,en;q=0.9",
}

// AcceptLanguage returns the Accept-Language sent for a region ("en-US"
// for unknown or empty regions).
func AcceptLanguage(region string) string {
	if v, ok := acceptLanguage[region]; ok {
		return v
	}
	return acceptLanguage["USA"]
}

const (
	defaultAccept   = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	chromeAccept    = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	acceptEncodings = "gzip, deflate, br, zstd"
)

// identity is what a site sees of one browser: its user agent (and the
// client hints that go with it) and its cookies. An exit keeps one across
// checks, as a browser would, and drops it on a block.
type identity struct {
	userAgent string
	hints     [3]string      // sec-ch-ua, -mobile, -platform; empty unless Chrome
	jar       *cookiejar.Jar // nil: no cookies (fasthttp client)
}

// newIdentity takes the next user agent; browser clients get a new jar.
func (f *Fetcher) newIdentity() *identity {
	ua := f.userAgents[(f.nextUA.Add(1)-1)%uint64(len(f.userAgents))]
	id := &identity{userAgent: ua, hints: chromeHints(ua)}
	if f.client == ClientBrowser {
		// The public suffix list scopes Domain cookies as a browser does
		// (amazon.co.uk may set .amazon.co.uk, not .co.uk).
		id.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	}
	return id
}

var chromeMajor = regexp.MustCompile(`Chrome/(\d+)`)

// chromeHints returns the low-entropy client hints Chrome sends with every
// request (sec-ch-ua, sec-ch-ua-mobile, sec-ch-ua-platform) for user agent
// ua, or none when ua is not Chrome's (Edge, Opera and others add their own
// brand, which this does not model).
func chromeHints(ua string) [3]string {
	m := chromeMajor.FindStringSubmatch(ua)
	if m == nil || strings.Contains(ua, "Edg/") || strings.Contains(ua, "OPR/") {
		return [3]string{}
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return [3]string{}
	}
	platform := `"Windows"`
	switch {
	case strings.Contains(ua, "Macintosh"):
		platform = `"macOS"`
	case strings.Contains(ua, "Android"):
		platform = `"Android"`
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		platform = `"Linux"`
	}
	mobile := "?0"
	if strings.Contains(ua, "Mobile") {
		mobile = "?1"
	}
	return [3]string{secCHUA(major), mobile, platform}
}

// secCHUA builds Chrome's sec-ch-ua brand list for a major version the way
// Chromium does (components/embedder_support/user_agent_utils.cc,
// GenerateBrandVersionList with the major version as seed): a "GREASE"
// brand with escaped characters and version chosen by the seed, and the
// three brands in one of six orders. It reproduces the headers captured
// from Chrome 118, 122, 131 and 151 (TestSecCHUA).
func secCHUA(major int) string {
	const chars = ` (:-./);=?_`
	versions := [...]string{"8", "99", "24"}
	orders := [6][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	v := strconv.Itoa(major)
	grease := `"Not` + string(chars[major%len(chars)]) + "A" + string(chars[(major+1)%len(chars)]) + `Brand";v="` + versions[major%3] + `"`
	brands := [3]string{grease, `"Chromium";v="` + v + `"`, `"Google Chrome";v="` + v + `"`}
	var out [3]string
	for i, pos := range orders[major%6] {
		out[pos] = brands[i]
	}
	return strings.Join(out[:], ", ")
}

// setFastHeaders sets a fasthttp request's headers: the monitor's, then
// the defaults it did not set.
func setFastHeaders(h *fasthttp.RequestHeader, r *monitors.Request, ua string) {
	for k, vs := range r.Header {
		for i, v := range vs {
			if i == 0 {
				h.Set(k, v)
			} else {
				h.Add(k, v)
			}
		}
	}
	setDefault := func(k, v string) {
		if len(h.Peek(k)) == 0 {
			h.Set(k, v)
		}
	}
	setDefault("User-Agent", ua)
	setDefault("Accept", defaultAccept)
	setDefault("Accept-Language", AcceptLanguage(r.Region))
	setDefault("Accept-Encoding", acceptEncodings)
}

// chromeHeaders returns the headers of a Chrome top-level navigation with
// the monitor's own headers on top (a JSON API's Accept wins). The order on
// the wire is chromeOrder's, applied by the HTTP/2 frame writer.
func chromeHeaders(r *monitors.Request, id *identity) http.Header {
	h := make(http.Header, 16)
	if id.hints[0] != "" {
		h["sec-ch-ua"] = []string{id.hints[0]}
		h["sec-ch-ua-mobile"] = []string{id.hints[1]}
		h["sec-ch-ua-platform"] = []string{id.hints[2]}
	}
	h["upgrade-insecure-requests"] = []string{"1"}
	h["user-agent"] = []string{id.userAgent}
	h["accept"] = []string{chromeAccept}
	h["sec-fetch-site"] = []string{"none"}
	h["sec-fetch-mode"] = []string{"navigate"}
	h["sec-fetch-user"] = []string{"?1"}
	h["sec-fetch-dest"] = []string{"document"}
	h["accept-encoding"] = []string{acceptEncodings}
	h["accept-language"] = []string{AcceptLanguage(r.Region)}
	h["priority"] = []string{"u=0, i"}
	for k, vs := range r.Header {
		h[strings.ToLower(k)] = append([]string(nil), vs...)
	}
	return h
}

// chromeOrder is the order in which Chrome (131 to 151, HTTP/2, a
// navigation) sends the headers it sends; headers it would not send come
// after sec-fetch-dest in the order given, where Chrome puts referer.
var chromeOrder = []string{
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
	"upgrade-insecure-requests", "user-agent", "accept",
	"sec-fetch-site", "sec-fetch-mode", "sec-fetch-user", "sec-fetch-dest",
	"", // everything else
	"accept-encoding", "accept-language", "cookie", "priority",
}
