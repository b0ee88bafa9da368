package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Faults sets how often the simulator misbehaves, each rate a probability
// per retailer request in [0, 1]; the rates together must not exceed 1.
// One draw of the server's seeded generator picks at most one fault per
// request, so a fixed seed and a fixed request order give the same mix.
type Faults struct {
	// Rate429 answers 429 Too Many Requests (Shopify: the throttle page).
	Rate429 float64 `json:"rate429"`
	// Rate503 answers 503 (Amazon: the automated-access page).
	Rate503 float64 `json:"rate503"`
	// RateCaptcha answers 200 with a bot check: Amazon's robot check in the
	// region's language, Walmart's "Robot or human?" page, Shopify's
	// throttle page with status 430.
	RateCaptcha float64 `json:"rateCaptcha"`
	// RateBlocked: Walmart redirects (302) to /blocked?url=...; Amazon
	// answers 403; Shopify 430 with the throttle page.
	RateBlocked float64 `json:"rateBlocked"`
	// RateSlow delays the normal answer by SlowDelay.
	RateSlow  float64       `json:"rateSlow"`
	SlowDelay time.Duration `json:"slowDelay"`
	// RateTruncated cuts the normal body to between a quarter and three
	// quarters of its length. The response is well-formed HTTP (its
	// Content-Length matches the cut body), so the monitor's parser, not
	// the HTTP client, has to notice: a half page must never read as "out
	// of stock".
	RateTruncated float64 `json:"rateTruncated"`
}

// maxSlowDelay bounds SlowDelay so a typo cannot hang clients for hours.
const maxSlowDelay = time.Minute

// Validate names the first offending field.
func (f Faults) Validate() error {
	var errs []error
	sum := 0.0
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"rate429", f.Rate429}, {"rate503", f.Rate503}, {"rateCaptcha", f.RateCaptcha},
		{"rateBlocked", f.RateBlocked}, {"rateSlow", f.RateSlow}, {"rateTruncated", f.RateTruncated},
	} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			errs = append(errs, fmt.Errorf("%s: %v is not between 0 and 1", r.name, r.v))
			continue
		}
		sum += r.v
	}
	if len(errs) == 0 && sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("rates: they add up to %.4g, more than 1", sum))
	}
	if f.SlowDelay < 0 || f.SlowDelay > maxSlowDelay {
		errs = append(errs, fmt.Errorf("slowDelay: %v is not between 0 and %v", f.SlowDelay, maxSlowDelay))
	}
	return errors.Join(errs...)
}

func (f Faults) any() bool {
	return f.Rate429+f.Rate503+f.RateCaptcha+f.RateBlocked+f.RateSlow+f.RateTruncated > 0
}

// fault is the misbehaviour chosen for one request.
type fault int

const (
	faultNone fault = iota
	fault429
	fault503
	faultCaptcha
	faultBlocked
	faultSlow
	faultTruncated
)

var faultNames = [...]string{"", "429", "503", "captcha", "blocked", "slow", "truncated"}

func (k fault) String() string { return faultNames[k] }

// choose maps a uniform draw u in [0,1) to a fault.
func (f Faults) choose(u float64) fault {
	for _, c := range []struct {
		rate float64
		k    fault
	}{
		{f.Rate429, fault429}, {f.Rate503, fault503}, {f.RateCaptcha, faultCaptcha},
		{f.RateBlocked, faultBlocked}, {f.RateSlow, faultSlow}, {f.RateTruncated, faultTruncated},
	} {
		if u < c.rate {
			return c.k
		}
		u -= c.rate
	}
	return faultNone
}
