package node

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// checkSpace fails when dir's file system is mounted read-only or has
// fewer than min bytes available.
func checkSpace(dir string, min uint64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return fmt.Errorf("%s: %w", dir, unix.EROFS)
	}
	if free := st.Bavail * uint64(st.Bsize); free < min {
		return fmt.Errorf("%s: %d KiB free, want %d KiB: %w", dir, free>>10, min>>10, unix.ENOSPC)
	}
	return nil
}
