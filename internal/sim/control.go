package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxControlBody bounds control API request bodies.
const maxControlBody = 64 << 10

// controlRoutes is the /_sim/ API:
//
//	GET  /_sim/products                              catalog state
//	GET  /_sim/products/{site}/{region}/{sku}        one product
//	POST /_sim/products/{site}/{region}/{sku}/stock  {"inStock":true} or, for a
//	                                                 Shopify variant, {"inStock":true,"variant":4123}
//	GET  /_sim/faults                                fault rates
//	POST /_sim/faults                                {"rate429":0.1,"slowDelay":"2s"}: fields given replace
//	POST /_sim/flip                                  flip one seeded-random product now
//
// For Shopify, {region} is the store host and {sku} the handle, product id
// or variant id.
func (s *Server) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/products", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Catalog{Products: s.Products()})
	})
	mux.HandleFunc("GET /_sim/products/{site}/{region}/{sku}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.Product(r.PathValue("site"), r.PathValue("region"), r.PathValue("sku"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("%s/%s/%s: %w", r.PathValue("site"), r.PathValue("region"), r.PathValue("sku"), ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /_sim/products/{site}/{region}/{sku}/stock", s.handleStock)
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sim/faults", s.handleFaults)
	mux.HandleFunc("POST /_sim/flip", func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.Flip()
		if !ok {
			writeError(w, http.StatusNotFound, errors.New("the catalog is empty"))
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no control route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// stockRequest is the body of POST .../stock.
type stockRequest struct {
	InStock *bool  `json:"inStock"`
	Variant *int64 `json:"variant"`
}

// ParseStockRequest decodes a stock-change body strictly: one JSON object,
// "inStock" required, "variant" optional, nothing else.
func ParseStockRequest(body []byte) (inStock bool, variant int64, hasVariant bool, err error) {
	var req stockRequest
	if err := decodeStrict(body, &req); err != nil {
		return false, 0, false, err
	}
	if req.InStock == nil {
		return false, 0, false, errors.New("inStock: missing (want true or false)")
	}
	if req.Variant != nil {
		if *req.Variant <= 0 {
			return false, 0, false, fmt.Errorf("variant: %d is not a Shopify variant id", *req.Variant)
		}
		return *req.InStock, *req.Variant, true, nil
	}
	return *req.InStock, 0, false, nil
}

func (s *Server) handleStock(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	in, variant, hasVariant, err := ParseStockRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	site, region, sku := r.PathValue("site"), r.PathValue("region"), r.PathValue("sku")
	if hasVariant {
		if site != SiteShopify {
			writeError(w, http.StatusBadRequest, fmt.Errorf("variant: only Shopify products have variants, not %q", site))
			return
		}
		err = s.SetVariantStock(region, sku, variant, in)
	} else {
		err = s.SetStock(site, region, sku, in)
	}
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	p, ok := s.Product(site, region, sku)
	if !ok {
		// sku was a Shopify variant id: report success without a product.
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	s.log.Info("stock set", "site", site, "region", region, "sku", sku, "inStock", in)
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	f, err := ParseFaults(s.Faults(), body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.log.Info("faults set", "faults", f)
	writeJSON(w, http.StatusOK, f)
}

// faultsWire is Faults on the wire: every field optional, the delay a Go
// duration string ("250ms").
type faultsWire struct {
	Rate429       *float64 `json:"rate429,omitempty"`
	Rate503       *float64 `json:"rate503,omitempty"`
	RateCaptcha   *float64 `json:"rateCaptcha,omitempty"`
	RateBlocked   *float64 `json:"rateBlocked,omitempty"`
	RateSlow      *float64 `json:"rateSlow,omitempty"`
	SlowDelay     *string  `json:"slowDelay,omitempty"`
	RateTruncated *float64 `json:"rateTruncated,omitempty"`
}

// MarshalJSON writes SlowDelay as a duration string.
func (f Faults) MarshalJSON() ([]byte, error) {
	d := f.SlowDelay.String()
	return json.Marshal(faultsWire{&f.Rate429, &f.Rate503, &f.RateCaptcha, &f.RateBlocked, &f.RateSlow, &d, &f.RateTruncated})
}

// UnmarshalJSON overlays the fields present on f, so decoding into the
// current rates changes only what the body names. Unknown fields are
// errors.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var w faultsWire
	if err := decodeStrict(data, &w); err != nil {
		return err
	}
	set := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.Rate429, w.Rate429)
	set(&f.Rate503, w.Rate503)
	set(&f.RateCaptcha, w.RateCaptcha)
	set(&f.RateBlocked, w.RateBlocked)
	set(&f.RateSlow, w.RateSlow)
	set(&f.RateTruncated, w.RateTruncated)
	if w.SlowDelay != nil {
		d, err := time.ParseDuration(*w.SlowDelay)
		if err != nil {
			return fmt.Errorf("slowDelay: %q is not a duration such as \"250ms\"", *w.SlowDelay)
		}
		f.SlowDelay = d
	}
	return nil
}

// ParseFaults overlays a POST /_sim/faults body on cur and validates the
// result.
func ParseFaults(cur Faults, body []byte) (Faults, error) {
	f := cur
	if err := f.UnmarshalJSON(body); err != nil {
		return cur, err
	}
	if err := f.Validate(); err != nil {
		return cur, err
	}
	return f, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields
// and trailing data, with errors that name the field.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("body: empty, want a JSON object")
		case errors.As(err, &te) && te.Field == "":
			return fmt.Errorf("body: want a JSON object, got %s", te.Value)
		case errors.As(err, &te):
			want := te.Type.Kind().String()
			switch want {
			case "float64", "int64":
				want = "number"
			case "ptr":
				want = te.Type.Elem().Kind().String()
				if want == "float64" || want == "int64" {
					want = "number"
				}
			}
			return fmt.Errorf("%s: %s is not a %s", te.Field, te.Value, want)
		}
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: data after the JSON object")
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", ctypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
