package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// maxIssues caps the issues one Parse reports: enough to fix a file in one
// pass, not so many that a binary file floods the terminal.
const maxIssues = 50

// Pos is a 1-based line and column in a file.
type Pos struct{ Line, Col int }

// Issue is one problem in a config file.
type Issue struct {
	File string
	Pos
	// Path is the offending field, e.g. "targets[3].region"; empty for
	// syntax errors and whole-file problems.
	Path    string
	Message string
}

// String formats the issue as "file:line:col: path: message".
func (i Issue) String() string {
	if i.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", i.File, i.Line, i.Col, i.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", i.File, i.Line, i.Col, i.Path, i.Message)
}

// Error lists every problem found in a config file, in file order.
type Error struct {
	Issues []Issue
	// Omitted counts issues past the cap.
	Omitted int
}

// Error prints one issue a line.
func (e *Error) Error() string {
	var b strings.Builder
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(is.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n(%d more issues not shown)", e.Omitted)
	}
	return b.String()
}

// issues collects problems for one parse.
type issues struct {
	main    string // the config file: its issues sort first
	list    []Issue
	omitted int
	// bad holds paths whose value failed to decode: semantic checks on
	// them would only repeat the problem.
	bad map[string]bool
}

func (is *issues) add(file string, p Pos, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, old := range is.list {
		// Ten targets inheriting one bad group default give one issue.
		if old.File == file && old.Pos == p && old.Path == path && old.Message == msg {
			return
		}
	}
	if len(is.list) >= maxIssues {
		is.omitted++
		return
	}
	is.list = append(is.list, Issue{File: file, Pos: p, Path: path, Message: msg})
}

// err returns nil or an *Error sorted by file position.
func (is *issues) err() error {
	if len(is.list) == 0 {
		return nil
	}
	slices.SortStableFunc(is.list, func(a, b Issue) int {
		return cmp.Or(cmp.Compare(is.rank(a), is.rank(b)), cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return &Error{Issues: is.list, Omitted: is.omitted}
}

func (is *issues) rank(i Issue) int {
	if i.File == is.main {
		return 0
	}
	return 1
}
