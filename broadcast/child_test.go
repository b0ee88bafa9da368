package broadcast

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A test process holds both ends of every loopback connection, and the
// open-file limit is 20,000: benchmarks with 10,000 conns keep the client
// ends in a child process (this test binary, re-executed).
const childEnv = "BROADCAST_TEST_CHILD"

// runChild dials BROADCAST_CHILD_N WebSockets to BROADCAST_CHILD_ADDR,
// prints "READY", drains every socket, and exits when stdin closes.
func runChild() int {
	addr := os.Getenv("BROADCAST_CHILD_ADDR")
	n, _ := strconv.Atoi(os.Getenv("BROADCAST_CHILD_N"))
	target := os.Getenv("BROADCAST_CHILD_TARGET")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		fail error
		sem  = make(chan struct{}, 64)
		cs   = make([]*client, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, status, _, err := dialWS(addr, target)
			if err == nil && status != http.StatusSwitchingProtocols {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				mu.Lock()
				fail = err
				mu.Unlock()
				return
			}
			cs[i] = c
		}()
	}
	wg.Wait()
	if fail != nil {
		fmt.Printf("FAIL %v\n", fail)
		return 1
	}
	for _, c := range cs {
		go func() { _, _ = io.Copy(io.Discard, c.br) }()
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		c.nc.Close()
	}
	return 0
}

// startChild runs n client connections in a child process and waits until
// they are all upgraded. The child exits when the returned stop is called.
func startChild(t testing.TB, addr, target string, n int) (stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"BROADCAST_CHILD_ADDR="+addr, "BROADCAST_CHILD_N="+strconv.Itoa(n),
		"BROADCAST_CHILD_TARGET="+target, "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		stop()
		t.Fatalf("child: %q %v", line, err)
	}
	return stop
}
