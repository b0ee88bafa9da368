package broadcast

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/leaktest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if mode := os.Getenv(attackEnv); mode != "" {
			os.Exit(runAttack(mode))
		}
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m, leaktest.Options()...)
}
