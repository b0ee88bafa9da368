package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a byte count written like "1MiB", "512KiB", "64MB" or a plain
// number of bytes.
type Size int64

// Binary and decimal units accepted by Size.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	KB  Size = 1000
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
)

var sizeUnits = []struct {
	suffix string
	mult   Size
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB},
	{"KB", KB}, {"MB", MB}, {"GB", GB},
	{"B", 1},
}

// ParseSize reads "1MiB", "1.5MB", "4096" or "4096B".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := Size(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || strings.ContainsAny(t, "eEinxXpP_") || f < 0 || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a size (e.g. 1MiB, 512KiB, 64MB or a number of bytes)", s)
	}
	v := f * float64(mult)
	if v > float64(math.MaxInt64/2) {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(v), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// String prints the size with the largest binary unit that divides it.
func (s Size) String() string {
	switch {
	case s != 0 && s%GiB == 0:
		return strconv.FormatInt(int64(s/GiB), 10) + "GiB"
	case s != 0 && s%MiB == 0:
		return strconv.FormatInt(int64(s/MiB), 10) + "MiB"
	case s != 0 && s%KiB == 0:
		return strconv.FormatInt(int64(s/KiB), 10) + "KiB"
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Fraction is a share in [0, 1) written as 0.1 or "10%".
type Fraction float64

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Fraction) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	div := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, div = strings.TrimSpace(t), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "eEinxXpP_") || math.IsNaN(v) {
		return fmt.Errorf("%q is not a fraction such as 0.1 or 10%%", string(b))
	}
	*f = Fraction(v / div)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (f Fraction) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(f), 'g', -1, 64)), nil
}
