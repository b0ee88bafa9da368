package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestTargetIDStable(t *testing.T) {
	// IDs are persisted (dedupe views) and set the phase: a change of the
	// hash silently re-runs every target's first check. Update only on
	// purpose.
	tg := Target{Target: monitors.Target{Site: "amazon", Region: "DE", SKU: "B0CHX1W1XY", Merchant: "amazon", MaxPrice: 699.99}}
	if got, want := tg.ID().String(), "3856fab1363ccfa7"; got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
	id, err := ParseTargetID(tg.ID().String())
	if err != nil || id != tg.ID() {
		t.Errorf("ParseTargetID round trip: %v, %v", id, err)
	}
	// Interval, Group and Tags are not identity.
	other := tg
	other.Interval, other.Group, other.Tags = time.Second, "g", []string{"x"}
	if other.ID() != tg.ID() {
		t.Error("schedule fields changed the ID")
	}
	if sameSchedule(&tg, &other) {
		t.Error("sameSchedule ignored a changed interval")
	}
	// Length prefixes: moving a byte between fields changes the ID.
	a := Target{Target: monitors.Target{Site: "ab", Region: "c"}}
	b := Target{Target: monitors.Target{Site: "a", Region: "bc"}}
	if a.ID() == b.ID() {
		t.Error("ID collision across field boundaries")
	}
	k1 := Target{Target: monitors.Target{Keywords: [][]string{{"a", "b"}}}}
	k2 := Target{Target: monitors.Target{Keywords: [][]string{{"a"}, {"b"}}}}
	if k1.ID() == k2.ID() {
		t.Error("keyword groups (a AND b) and (a OR b) share an ID")
	}
}

// TestTargetIDCoversEveryField fails when monitors.Target grows a field that
// ID does not hash.
func TestTargetIDCoversEveryField(t *testing.T) {
	base := Target{}
	rt := reflect.TypeOf(monitors.Target{})
	for i := range rt.NumField() {
		f := rt.Field(i)
		tg := base
		v := reflect.ValueOf(&tg.Target).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Float64:
			v.SetFloat(1.5)
		case reflect.Slice:
			if f.Type == reflect.TypeOf([][]string{}) {
				v.Set(reflect.ValueOf([][]string{{"x"}}))
				break
			}
			if f.Type == reflect.TypeOf([]string{}) {
				v.Set(reflect.ValueOf([]string{"x"}))
				break
			}
			t.Fatalf("field %s (%s): teach ID and this test about it", f.Name, f.Type)
		default:
			t.Fatalf("field %s (%s): teach ID and this test about it", f.Name, f.Type)
		}
		if tg.ID() == base.ID() {
			t.Errorf("monitors.Target.%s does not change the target ID", f.Name)
		}
	}
}
