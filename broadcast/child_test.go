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

	"github.com/gobwas/ws"
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
	sub := os.Getenv("BROADCAST_CHILD_SUBSCRIBE") // /ws channel, or none
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
			if err == nil && sub != "" {
				err = c.subscribe(sub)
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

// subscribe reads the /ws connected message, subscribes to channel and
// waits for the ack.
func (c *client) subscribe(channel string) error {
	if _, p, err := c.readFrame(30 * time.Second); err != nil || !strings.Contains(string(p), `"connected"`) {
		return fmt.Errorf("connected message: %q %v", p, err)
	}
	if err := c.send(ws.OpText, []byte(`{"type":"subscribe","channel":"`+channel+`"}`)); err != nil {
		return err
	}
	if _, p, err := c.readFrame(30 * time.Second); err != nil || !strings.Contains(string(p), `"subscribed"`) {
		return fmt.Errorf("subscribe ack: %q %v", p, err)
	}
	return nil
}

// startChild runs n client connections in a child process and waits until
// they are all upgraded. The child exits when the returned stop is called.
func startChild(t testing.TB, addr, target string, n int) (stop func()) {
	t.Helper()
	return startChildSub(t, addr, target, "", n)
}

// startChildSub is startChild for /ws targets: each conn subscribes to
// channel (when not empty) before the child reports ready.
func startChildSub(t testing.TB, addr, target, channel string, n int) (stop func()) {
	t.Helper()
	stop, _ = spawnChild(t, "BROADCAST_CHILD_ADDR="+addr, "BROADCAST_CHILD_N="+strconv.Itoa(n),
		"BROADCAST_CHILD_TARGET="+target, "BROADCAST_CHILD_SUBSCRIBE="+channel)
	return stop
}

// spawnChild re-executes this test binary as a child (env added to ours,
// one CPU), waits until it prints READY, and returns how to stop it
// (close its stdin; killed after 30 s) and its pid.
func spawnChild(t testing.TB, env ...string) (stop func(), pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "GOMAXPROCS=1"), env...)
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
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		stop()
		t.Fatalf("child %v: %q %v", env, line, err)
	}
	return stop, cmd.Process.Pid
}
