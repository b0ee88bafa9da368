package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// clientProc is the harness's handle on one client process.
type clientProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan clientEvent // connected, mark, result (progress is folded in)
	done   chan struct{}    // closed when stdout ends
	stderr *tailBuffer

	mu       sync.Mutex
	progress clientEvent // latest counters
}

// startClient re-executes the current binary (or cmdline, when set) as a
// client process in its own process group and sends it cfg.
func startClient(ctx context.Context, cmdline []string, cfg clientConfig) (*clientProc, error) {
	if len(cmdline) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable for client processes: %w", err)
		}
		cmdline = append([]string{exe}, os.Args[1:]...)
	}
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(os.Environ(), ClientEnv+"=1", "GOMAXPROCS=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &clientProc{cmd: cmd, events: make(chan clientEvent, 16), done: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("client stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("client stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start client process %s: %w", cmdline[0], err)
	}
	go p.readEvents(stdout) // ends when the process exits or is killed
	b, _ := json.Marshal(cfg)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.kill()
		return nil, fmt.Errorf("send client config: %w; stderr: %s", err, p.stderr)
	}
	return p, nil
}

func (p *clientProc) readEvents(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // results carry histograms
	for sc.Scan() {
		var ev clientEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		p.mu.Lock()
		p.progress.Recv, p.progress.Dups, p.progress.Closed = ev.Recv, ev.Dups, ev.Closed
		p.progress.Unparsed, p.progress.ProtoErrors = ev.Unparsed, ev.ProtoErrors
		p.mu.Unlock()
		if ev.Ev != "progress" {
			select {
			case p.events <- ev:
			case <-time.After(10 * time.Second): // harness gone; do not block forever
				return
			}
		}
	}
}

func (p *clientProc) counters() clientEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress
}

// send writes a command line and waits for the event it produces.
func (p *clientProc) request(ctx context.Context, cmd, want string, timeout time.Duration) (clientEvent, error) {
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		return clientEvent{}, fmt.Errorf("client command %q: %w", cmd, err)
	}
	return p.wait(ctx, want, timeout)
}

func (p *clientProc) wait(ctx context.Context, want string, timeout time.Duration) (clientEvent, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev := <-p.events:
			if ev.Ev == want {
				return ev, nil
			}
		case <-p.done:
			return clientEvent{}, fmt.Errorf("client process exited before %q; stderr: %s", want, p.stderr)
		case <-t.C:
			return clientEvent{}, fmt.Errorf("client process: no %q within %s", want, timeout)
		case <-ctx.Done():
			return clientEvent{}, ctx.Err()
		}
	}
}

// stop closes stdin (the client closes its sockets and exits), then kills
// the process group if it lingers.
func (p *clientProc) stop() {
	_ = p.stdin.Close()
	select { // let stdout drain before Wait closes it
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.kill()
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		p.kill()
		<-exited
	}
}

func (p *clientProc) kill() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// tailBuffer keeps the last max bytes written (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var errNoClients = errors.New("no client connected")
