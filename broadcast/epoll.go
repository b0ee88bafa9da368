package broadcast

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"
)

// newPoller creates easygo's low-level epoll instance. Its wait loop
// already retries EINTR (errno.Temporary), which Go's async preemption
// causes often; any other wait error is logged and ends the loop.
func newPoller(log *slog.Logger) (*netpoll.Epoll, error) {
	ep, err := netpoll.EpollCreate(&netpoll.EpollConfig{
		OnWaitError: func(err error) {
			log.Error("broadcast: epoll wait failed", "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: create epoll: %w", err)
	}
	return ep, nil
}

// rawFD returns the socket's fd, read once through SyscallConn().Control.
// Unlike conn.File() it neither duplicates the fd nor switches the socket
// to blocking mode (both traps of easygo's high-level netpoll.Handle*).
func rawFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("broadcast: connection has no raw fd")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("broadcast: raw conn: %w", err)
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, fmt.Errorf("broadcast: raw fd: %w", err)
	}
	return fd, nil
}

// detachFD takes an upgraded connection out of Go's runtime: it duplicates
// the socket's fd, then closes nc, which removes the original from Go's
// netpoller and frees the net.Conn, its netFD and poll descriptor. The
// broadcaster owns the duplicate (still one fd per connection) and closes
// it with unix.Close. O_NONBLOCK lives on the shared open file
// description, so the duplicate stays non-blocking. This is what brings an
// idle connection under ~1.2 KB: Go's bookkeeping for a conn it no longer
// reads or writes is several hundred bytes.
func detachFD(nc net.Conn) (int, error) {
	fd, err := rawFD(nc)
	if err != nil {
		return -1, err
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("broadcast: dup fd: %w", err)
	}
	if err := nc.Close(); err != nil {
		_ = unix.Close(dup)
		return -1, fmt.Errorf("broadcast: release net.Conn: %w", err)
	}
	return dup, nil
}
