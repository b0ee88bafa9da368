// Package testutil holds the helpers every package's tests share: a
// polling wait (Eventually), a goroutine-safe log sink (SyncBuffer) and
// golden-file comparison with the -update flag (Golden).
//
// Only _test.go files import it, so its -update flag is registered in test
// binaries alone. A test package that imports it must not define its own
// "update" flag.
//
//	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
//		if n := hub.Subscribers(); n != 1 {
//			return fmt.Errorf("subscribers = %d, want 1", n)
//		}
//		return nil
//	})
//	testutil.Golden(t, filepath.Join("testdata", "page.golden"), got)
package testutil
