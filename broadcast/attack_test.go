package broadcast

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
		reopened  atomic.Int64
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
				} else {
					reopened.Add(1)
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
	fmt.Fprintf(os.Stderr, "attack %s: %d sockets, reopened %d times\n", mode, n, reopened.Load())
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
// ready; stop ends it.
func startAttack(b *testing.B, addr, mode string, n int) (stop func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", attackEnv+"="+mode,
		"BROADCAST_CHILD_ADDR="+addr, "BROADCAST_CHILD_N="+strconv.Itoa(n), "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		stop()
		b.Fatalf("attack child %s: %q %v", mode, line, err)
	}
	return stop
}
