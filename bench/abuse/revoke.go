package abuse

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

func revokeChecks() []Check {
	return []Check{{Name: "keys/revoke-race", Family: "keys", NeedsAdmin: true,
		About: "a key revoked while its clients are mid-handshake: every connection that got its 101 is cut within 5 s",
		Run:   func(ctx context.Context, e *Env) (string, error) { return e.revokeRace(ctx) }}}
}

// revokeRace creates a key, starts a burst of handshakes with it and
// revokes it while they are in flight, for several rounds. A connection
// authenticated a moment before the revocation and registered a moment
// after must be cut like the others.
func (e *Env) revokeRace(ctx context.Context) (string, error) {
	admin := NewAdmin(e.Target.API, e.Target.AdminToken)
	rounds, burst := e.Scale.RevokeRounds, e.Scale.RevokeBurst
	var upgraded, survived atomic.Int64
	for r := range rounds {
		k, err := admin.Create(ctx, "subscriber", fmt.Sprintf("abuse revoke race %d", r))
		if err != nil {
			return "", err
		}
		conns := make([]net.Conn, burst)
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() {
				c, br, err := DialWS(ctx, e.srcIP(), e.Target.WS, k.Secret)
				if err != nil {
					return // refused: revoked before its check, fine
				}
				upgraded.Add(1)
				conns[i] = c
				if WaitClosed(c, br, 5*time.Second) != nil {
					survived.Add(1)
				}
			})
		}
		// Revoke while the handshakes are in flight.
		time.Sleep(time.Duration(r%4) * time.Millisecond)
		if err := admin.Revoke(ctx, k.Key.ID); err != nil {
			wg.Wait()
			closeAll(conns)
			return "", err
		}
		wg.Wait()
		closeAll(conns)
	}
	fig := fmt.Sprintf("%d rounds × %d handshakes racing a revocation: %d upgraded, %d still open 5 s after",
		rounds, burst, upgraded.Load(), survived.Load())
	if n := survived.Load(); n > 0 {
		return fig, fmt.Errorf("%d connections of a revoked key were not cut", n)
	}
	return fig, nil
}
