package monitors

import (
	"errors"
	"strings"
)

// maxJSONErr bounds decoder messages in errors.
const maxJSONErr = 160

// ShortJSONError keeps the first line of a sonic error. sonic quotes the
// source around the error position, and at end of input it quotes the
// whole source: a truncated 1 MB page must not become a 1 MB log line.
func ShortJSONError(err error) error {
	s := err.Error()
	if i := strings.Index(s, `\n`); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(strings.Trim(s, `"`))
	if len(s) > maxJSONErr {
		s = s[:maxJSONErr] + "…"
	}
	return errors.New(s)
}
