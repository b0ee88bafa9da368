package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// maxConfigFile bounds what Load reads: a config is kilobytes.
const maxConfigFile = 16 << 20

// Loader parses config files against a set of monitors.
type Loader struct {
	// Lookup returns the monitor registered for a site name, or an error
	// naming the known ones. nil means monitors.New: cmd/ imports
	// monitors/all so every built-in site is registered.
	Lookup func(site string) (monitors.Monitor, error)
	// Sites lists the site names Lookup knows, for checks that span every
	// site (an output's region filter). nil means monitors.Names.
	Sites func() []string

	// checked, when set, is called by Watch after each debounced look at
	// the files, with whether they changed: tests wait on it to know an
	// unchanged save went through before they assert nothing came of it.
	checked func(changed bool)
}

// Load reads and parses the file at path with monitors.New as the lookup.
func Load(path string) (*Config, error) { return Loader{}.Load(path) }

// Parse parses data read from name with monitors.New as the lookup.
func Parse(name string, data []byte) (*Config, error) { return Loader{}.Parse(name, data) }

// Load reads and parses the file at path.
func (l Loader) Load(path string) (*Config, error) {
	data, err := readSmallFile(path, maxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return l.Parse(path, data)
}

// Parse decodes data (named name in messages; relative proxyFile paths are
// resolved against its directory) over Default() and validates it. The
// error, if any, is an *Error listing every problem as
// "file:line:col: path: message"; the config is returned only when there
// are none.
func (l Loader) Parse(name string, data []byte) (*Config, error) {
	is := &issues{main: name}
	file, err := parseYAML(data)
	if err != nil {
		var ye yaml.Error
		p := Pos{1, 1}
		msg := err.Error()
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				p = Pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
			}
		}
		is.add(name, p, "", "syntax error: %s", msg)
		return nil, is.err()
	}
	cfg := Default()
	cfg.File = name
	d := newDecoder(name, is)
	var docs []*ast.DocumentNode
	for _, doc := range file.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) > 1 {
		is.add(name, tokPos(docs[1].Body), "", "only one YAML document is allowed (found a second after ---)")
	}
	if len(docs) > 0 {
		d.collectAnchors(docs[0], 0)
		d.decode(docs[0].Body, reflect.ValueOf(cfg).Elem(), "")
	}
	lookup := l.Lookup
	if lookup == nil {
		lookup = monitors.New
	}
	names := l.Sites
	if names == nil {
		names = monitors.Names
	}
	v := &validator{cfg: cfg, d: d, is: is, dir: filepath.Dir(name), lookup: lookup, names: names, sites: map[string]siteResult{}}
	v.run()
	if err := is.err(); err != nil {
		return nil, err
	}
	cfg.pos = d.pos
	return cfg, nil
}

// parseYAML guards the third-party parser: a panic on hostile bytes becomes
// an error, never a crashed server (config reload runs inside one).
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("yaml parser failed: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}
