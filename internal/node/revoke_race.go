package node

import (
	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// keyDisconnector is the part of the broadcaster keyAuth needs.
type keyDisconnector interface {
	DisconnectKey(keyID string, code ws.StatusCode, reason string) int
	DisconnectIssued(keyID string, issued int64, code ws.StatusCode, reason string) int
}

// recheck closes a race between a handshake and a revocation. A client
// authenticated a moment before its key was revoked or disabled joins the
// broadcaster a moment after, so the DisconnectKey the key change started
// may not find it, and it would keep receiving pings. Connected runs once
// the connection is registered: either the change is visible to the Get
// below, or the change's DisconnectKey runs after this point and finds
// the connection. A rotation keeps the key active: a connection opened
// with the secret it replaced carries an older stamp, and only that
// connection is cut (the new secret's stay).
func (a keyAuth) recheck(id broadcast.Identity) {
	k, err := a.st.Get(id.KeyID)
	if err != nil || a.hub == nil {
		return
	}
	// Connected runs on the broadcaster's goroutine: do not close from it.
	if reason := cutReason(&k); reason != "" {
		go a.hub.DisconnectKey(id.KeyID, ws.StatusPolicyViolation, reason)
	} else if keys.SecretStamp(&k) != id.Issued {
		go a.hub.DisconnectIssued(id.KeyID, id.Issued, ws.StatusPolicyViolation, "key rotated")
	}
}

// cutReason says why connections of k must end now, or "" if they may stay
// (expiry is the broadcaster's sweep's business).
func cutReason(k *keys.Key) string {
	switch {
	case !k.Revoked.IsZero():
		return "key revoked"
	case k.Disabled:
		return "key disabled"
	}
	return ""
}
