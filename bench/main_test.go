package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets the test binary double as the client process: the harness
// re-executes os.Executable() with ClientEnv set.
func TestMain(m *testing.M) {
	if IsClientProcess() {
		os.Exit(ClientMain())
	}
	goleak.VerifyTestMain(m)
}
