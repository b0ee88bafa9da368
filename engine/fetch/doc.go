// Package fetch gets pages over HTTP for the monitors, through rotating
// proxies, looking like a browser to the retailer.
//
// A Fetcher has one exit per configured proxy (or one direct exit). Each
// check takes a Session: the next exit not benched, round robin, and that
// exit's browser identity (a user agent with its client hints, and a cookie
// jar). The identity lives across checks, as a browser's would, until a
// check through the exit is reported Blocked: then the cookies go, the next
// user agent comes, and a proxy is benched for ProxyCooldown.
//
// # Clients
//
// With ClientBrowser (the default) https:// requests go out the way
// Chrome 151 sends them (the profile in profile.go; how to update it in
// docs/monitors-client.md): its ClientHello (utls), HTTP/2 when the site
// picks h2 by ALPN (x/net's transport, with Chrome's SETTINGS, window,
// pseudo-header and header order put in place by h2Conn), HTTP/1.1
// otherwise, Chrome's navigation headers and client hints, and cookies.
// Plain http:// (the built-in simulator, tests) and ClientFastHTTP go over
// fasthttp, the cheapest path per check, which retailers' bot walls
// recognise by its Go TLS handshake and HTTP/1.1.
//
// Responses come back decoded (gzip, deflate, br, zstd) with the body
// capped before and after decoding; redirects are followed by hand so the
// final URL (a block page's) is visible to the monitor.
//
// # Usage
//
//	f, err := fetch.New(fetch.Options{Proxies: proxies, Metrics: set})
//	s, err := f.Session(time.Now())   // one per check
//	err = s.Wait(ctx)                 // the proxy's rate limit
//	resp, err := s.Do(ctx, &monitors.Request{URL: u, Region: "DE"}, nil)
//	s.Report(obs.Outcome)             // Blocked drops cookies, benches the proxy
//	f.CloseIdleConnections()          // at shutdown
package fetch
