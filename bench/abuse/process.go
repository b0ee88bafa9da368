package abuse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a stellarfeed server started by the suite or the soak: the
// real binary, `run` on the embedded demo (simulator and monitors on),
// every listener on a free loopback port.
type Process struct {
	Target  Target
	SimAddr string // host:port of the retailer simulator
	Dir     string // data directory
	PID     int

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartServer starts `bin run` with its data in dir and waits until it
// serves and has written its keys. Its output goes to log. extra are added
// to the run command's flags.
func StartServer(ctx context.Context, bin, dir string, log io.Writer, extra ...string) (*Process, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	p := &Process{Dir: dir, SimAddr: ports[2], done: make(chan struct{})}
	args := append([]string{"run", "--data", dir, "--ws-addr", ports[0], "--api-addr", ports[1], "--sim-addr", ports[2]}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.PID = p.cmd.Process.Pid
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	p.Target = Target{WS: ports[0], API: ports[1]}
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	if err := p.Target.FillFromDataDir(dir); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + p.Target.API + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if _, err := os.Stat(filepath.Join(p.Dir, demoKeysFile)); err == nil {
					return nil
				}
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited before it was ready: %v", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready on %s within %s", p.Target.API, timeout)
		}
	}
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Stop asks the server to shut down (SIGTERM) and kills it after 20 s.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("server did not stop within 20s of SIGTERM: killed")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && !ee.Exited() {
		return nil // ended by our signal
	}
	return p.err
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
