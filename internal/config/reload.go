package config

import (
	"reflect"
	"strings"
)

// liveKeys are what a running server applies when its config file
// changes: the targets (groups, base URLs and the default interval shape
// them), the feeds restocks go to, the Stellar site names and the dedupe
// options. Every other key
// needs a restart; RestartNeeded names the changed ones so the reload can
// say so.
var liveKeys = map[string]bool{
	"targets":         true,
	"groups":          true,
	"baseURLs":        true,
	"stellar.sites":   true,
	"engine.interval": true,
	"engine.feed":     true,
	"engine.dedupe":   true,
}

// RestartNeeded lists the keys ("server.ws", "engine.proxies", ...) whose
// values differ between running and next and that a reload does not apply.
// Proxies read from engine.proxyFile count as engine.proxies.
func RestartNeeded(running, next *Config) []string {
	var keys []string
	diffKeys(reflect.ValueOf(running).Elem(), reflect.ValueOf(next).Elem(), "", &keys)
	return keys
}

func diffKeys(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		key := joinPath(prefix, tag)
		if liveKeys[key] {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		if fa.Kind() == reflect.Struct && hasYAMLFields(fa.Type()) {
			diffKeys(fa, fb, key, keys)
			continue
		}
		if key == "engine.proxyFile" {
			continue // its proxies are in engine.proxies
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*keys = append(*keys, key)
		}
	}
}

func hasYAMLFields(t reflect.Type) bool {
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			return true
		}
	}
	return false
}
