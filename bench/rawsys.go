package bench

import (
	"syscall"
	"unsafe"
)

// rawWrite and rawRead issue write(2)/read(2) without telling the Go
// scheduler (RawSyscall). They are only for non-blocking sockets, which
// return at once: a plain syscall.Write pays entersyscall/exitsyscall and,
// when the kernel's loopback work runs past 20 µs, a P hand-off to another
// thread, which on the floor's hot loop cost more than the write itself.
func rawWrite(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), e
}

func rawRead(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), e
}
