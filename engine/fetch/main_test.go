package fetch

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/leaktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}
