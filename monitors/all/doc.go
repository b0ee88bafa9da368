// Package all registers every built-in site monitor: amazon, walmart and
// shopify. Only cmd/ imports it, for its side effect; libraries and tests
// import the one site package they need, so they do not pull in the rest.
//
//	import _ "github.com/stellarfeed/stellarfeed/monitors/all"
//
//	m, err := monitors.New(cfg.Site) // unknown names fail at config load
package all
