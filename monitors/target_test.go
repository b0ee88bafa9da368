package monitors

import (
	"errors"
	"testing"
)

type ruledMonitor struct{ nopMonitor }

func (ruledMonitor) ValidateTarget(t *Target) error {
	var e TargetError
	if t.SKU == "" {
		e.Add("sku", "required")
	}
	return e.Err()
}

type plainErrMonitor struct{ nopMonitor }

func (plainErrMonitor) ValidateTarget(*Target) error { return errors.New("no") }

func TestValidate(t *testing.T) {
	bad := Target{StellarSite: "My Site", MaxPrice: -1, BaseURL: "/x"}
	got := FieldErrors(Validate(ruledMonitor{}, &bad))
	want := []string{"stellarSite", "maxPrice", "baseURL", "sku"}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want fields %v", got, want)
	}
	for i, fe := range got {
		if fe.Path != want[i] || fe.Msg == "" {
			t.Errorf("field %d = %+v, want path %s", i, fe, want[i])
		}
	}
	if err := Validate(ruledMonitor{}, &Target{SKU: "1", StellarSite: "kith"}); err != nil {
		t.Errorf("valid target: %v", err)
	}
	// A monitor without rules still gets the shared ones.
	if fe := FieldErrors(Validate(nopMonitor{}, &Target{MaxPrice: -1})); len(fe) != 1 || fe[0].Path != "maxPrice" {
		t.Errorf("nopMonitor: %+v", fe)
	}
	// A plain error has no path: config places it at the target.
	if fe := FieldErrors(Validate(plainErrMonitor{}, &Target{})); len(fe) != 1 || fe[0].Path != "" || fe[0].Msg != "no" {
		t.Errorf("plain error: %+v", fe)
	}
}
