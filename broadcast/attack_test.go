package broadcast

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Attack children for BenchmarkHandshakeUnderAttack: this test binary,
// re-executed with BROADCAST_TEST_CHILD=1 and BROADCAST_ATTACK set, holds
// n hostile sockets to the server from 127.0.0.2-.9 and reopens each one
// the server closes, so the attack stays attached for the whole run.
//
//   - slowloris: sends an upgrade request one byte at a time, one byte per
//     socket per second (never finishing within the handshake deadline).
//   - halfopen: connects and sends nothing.
const attackEnv = "BROADCAST_ATTACK"

// attackSources are the attackers' addresses; well-behaved clients dial
// from elsewhere.
var attackSources = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"}

// runAttack runs one attack child; it prints "READY" once every socket
// was connected at least once, and exits when stdin closes.
func runAttack(mode string) int {
	addr := os.Getenv("BROADCAST_CHILD_ADDR")
	n, _ := strconv.Atoi(os.Getenv("BROADCAST_CHILD_N"))
	const slowReq = "GET /?key=k HTTP/1.1\r\nHost: victim\r\nX-Slow: " // the rest never comes
	stop := make(chan struct{})
	var (
		wg        sync.WaitGroup
		connected atomic.Int64
	)
	ready := make(chan struct{})
	var readyOnce sync.Once
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(attackSources[i%len(attackSources)])}}
			// Spread the first bytes over the second, not all at once.
			tick := time.Duration(i%1000) * time.Millisecond
			first := true
			for {
				nc, err := d.Dial("tcp", addr)
				if err != nil {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						continue
					}
				}
				if first {
					first = false
					if connected.Add(1) == int64(n) {
						readyOnce.Do(func() { close(ready) })
					}
				}
				opened := time.Now()
				attackOne(nc, mode, slowReq, tick, stop)
				nc.Close()
				// Reopen at once after a deadline; after a quick refusal
				// (429, shed), a second later, as slowloris tools do.
				pause := time.Duration(0)
				if time.Since(opened) < time.Second {
					pause = time.Second
				}
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	select {
	case <-ready:
		fmt.Println("READY")
	case <-time.After(60 * time.Second):
		fmt.Printf("FAIL %d of %d connected\n", connected.Load(), n)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	close(stop)
	wg.Wait()
	return 0
}

// attackOne holds one hostile socket until the server closes it or stop.
func attackOne(nc net.Conn, mode, slowReq string, offset time.Duration, stop <-chan struct{}) {
	closed := make(chan struct{})
	go func() { // notices the server's close
		_, _ = io.Copy(io.Discard, nc)
		close(closed)
	}()
	if mode != "slowloris" {
		select {
		case <-closed:
		case <-stop:
		}
		return
	}
	t := time.NewTimer(offset)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-closed:
			return
		case <-stop:
			return
		case <-t.C:
		}
		b := slowReq[i%len(slowReq)]
		if i >= len(slowReq) {
			b = 'a' // a header value that never ends
		}
		if _, err := nc.Write([]byte{b}); err != nil {
			return
		}
		t.Reset(time.Second)
	}
}

// startAttack starts an attack child of n sockets and waits until it is
// ready; stop ends it, cpu reads the CPU time it used so far.
func startAttack(b *testing.B, addr, mode string, n int) (stop func(), cpu func() time.Duration) {
	b.Helper()
	stop, pid := spawnChild(b, attackEnv+"="+mode, "BROADCAST_CHILD_ADDR="+addr, "BROADCAST_CHILD_N="+strconv.Itoa(n))
	return stop, func() time.Duration { return procCPU(pid) }
}

// procCPU reads a process's user+system CPU time from /proc (10 ms
// ticks); 0 when unavailable.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
