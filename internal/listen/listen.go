// Package listen opens the server's TCP listeners.
package listen

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// TCP opens a TCP listener on addr. With reusePort, SO_REUSEPORT is
// set first, so several stellarfeed processes on one machine can listen
// on the same WebSocket port and the kernel spreads new connections over
// them (each process stays under its own open-file limit). Every process
// sharing the port must set it, as the same user.
func TCP(ctx context.Context, addr string, reusePort bool) (net.Listener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("set SO_REUSEPORT: %w", serr)
			}
			return nil
		}
	}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (reuseport %v): %w", addr, reusePort, err)
	}
	return ln, nil
}
