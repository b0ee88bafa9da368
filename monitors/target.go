package monitors

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// FieldError is one problem with a target, named by the target's field as
// config files spell it: "region", "sku", "keywords[1]", "baseURL". An
// empty Path means the target as a whole (e.g. two fields that exclude
// each other). Config maps Path to the file:line:col of that field.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// TargetError lists every problem found with one target, in the order the
// rules ran. The zero value is ready to collect into; Err turns it into
// the error to return.
type TargetError struct {
	Fields []FieldError
}

// Error joins the problems with "; ", each as "path: message".
func (e *TargetError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// Add records a problem with the field at path.
func (e *TargetError) Add(path, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns e as an error, or nil when it holds no problem.
func (e *TargetError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return &TargetError{Fields: e.Fields}
}

// Unused reports every field of t among fields that is set although site
// does not use it.
func (e *TargetError) Unused(t *Target, site string, fields ...string) {
	for _, f := range fields {
		set := false
		switch f {
		case "region":
			set = t.Region != ""
		case "sku":
			set = t.SKU != ""
		case "store":
			set = t.Store != ""
		case "handle":
			set = t.Handle != ""
		case "keywords":
			set = len(t.Keywords) > 0
		case "merchant":
			set = t.Merchant != ""
		case "condition":
			set = len(t.Conditions) > 0
		case "fulfillment":
			set = t.Fulfillment != ""
		}
		if set {
			e.Add(f, "not used by site %s", site)
		}
	}
}

// Conditions checks a target's condition list (ValidateConditions) as a
// "condition" field error.
func (e *TargetError) Conditions(cs []string) {
	if err := ValidateConditions(cs); err != nil {
		e.Add("condition", "%s", strings.TrimPrefix(err.Error(), "condition: "))
	}
}

// FieldErrors returns the problems inside err: the fields of a
// *TargetError, or err itself as one FieldError without a path.
func FieldErrors(err error) []FieldError {
	if err == nil {
		return nil
	}
	var te *TargetError
	if errors.As(err, &te) {
		return te.Fields
	}
	var fe FieldError
	if errors.As(err, &fe) {
		return []FieldError{fe}
	}
	return []FieldError{{Msg: err.Error()}}
}

// Validate checks t against the rules every site shares (stellarSite is a
// Stellar site name, maxPrice a number >= 0, baseURL an absolute http(s)
// URL) and then against m's own rules when m is a TargetValidator. The
// error, if any, is a *TargetError listing every problem.
func Validate(m Monitor, t *Target) error {
	var e TargetError
	if t == nil {
		e.Add("", "nil target")
		return e.Err()
	}
	if t.StellarSite != "" {
		if fe := CheckStellarSite(t.StellarSite); fe != nil {
			e.Fields = append(e.Fields, *fe)
		}
	}
	if t.MaxPrice < 0 || math.IsNaN(t.MaxPrice) || math.IsInf(t.MaxPrice, 0) {
		e.Add("maxPrice", "must be a number >= 0 (0 means no cap), got %v", t.MaxPrice)
	}
	if t.BaseURL != "" {
		if _, err := ParseBaseURL(t.BaseURL); err != nil {
			e.Add("baseURL", "%s", strings.TrimPrefix(err.Error(), "baseURL: "))
		}
	}
	if v, ok := m.(TargetValidator); ok {
		if err := v.ValidateTarget(t); err != nil {
			e.Fields = append(e.Fields, FieldErrors(err)...)
		}
	}
	return e.Err()
}

// CheckStellarSite reports a name Stellar's task creator cannot hold
// (stellar.IsSiteName), as a "stellarSite" field error; nil when it is fine.
func CheckStellarSite(s string) *FieldError {
	if stellar.IsSiteName(s) {
		return nil
	}
	msg := fmt.Sprintf("%q must be lower-case letters, digits, '.', '_' or '-' (at most 64), as in Stellar's task creator", textutil.Short(s))
	if s == "" {
		msg = "must not be empty"
	}
	return &FieldError{Path: "stellarSite", Msg: msg}
}

// Regioner is implemented by monitors whose targets name a region: config
// checks "site.REGION" keys and output filters against Regions. A monitor
// without it takes no region.
type Regioner interface {
	Regions() []string
}

// PingShaper is implemented by monitors that can tell, before any check,
// which Stellar site their pings for t carry and whether those pings carry
// an offerId. Config uses it to allow a custom stellarSite its offerId and
// to refuse a target whose pings Stellar would reject.
type PingShaper interface {
	PingShape(t *Target) (site string, offerID bool)
}
