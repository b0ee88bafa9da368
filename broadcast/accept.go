package broadcast

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// accept takes the next connection off ln as a raw, non-blocking fd and
// its peer's address. Go's Accept waits on the runtime's poller (no slow
// peer can block it) and sets TCP_NODELAY and keep-alive; detachFD then
// takes the socket out of the runtime, so the connection costs one fd
// from its first byte on. (A raw accept4(2) would save the dup, but a
// net.TCPListener's RawConn refuses Read, and accepting on a borrowed
// listener fd races with its Close.)
func accept(ln net.Listener) (int, netip.Addr, error) {
	nc, err := ln.Accept()
	if err != nil {
		return -1, netip.Addr{}, err
	}
	var peer netip.Addr
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		peer = ta.AddrPort().Addr().Unmap()
	}
	fd, err := detachFD(nc)
	if err != nil {
		_ = nc.Close()
		return -1, peer, detachError{fmt.Errorf("detach accepted conn from %s: %w", peer, err)}
	}
	return fd, peer, nil
}

// detachError loses one accepted connection, never the accept loop.
type detachError struct{ error }

func (e detachError) Unwrap() error   { return e.error }
func (e detachError) Temporary() bool { return true }

// isFDLimit reports an accept error caused by the open-file limit.
func isFDLimit(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
