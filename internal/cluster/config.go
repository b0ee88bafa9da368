package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Role is a job a node does. Every node may do any of them.
type Role string

// Roles.
const (
	// RoleBroadcast serves Stellar WebSocket clients: it subscribes to the
	// ping bus and shares its per-key connection counts.
	RoleBroadcast Role = "broadcast"
	// RoleEngine runs monitors over its share of the targets.
	RoleEngine Role = "engine"
	// RoleIngest accepts pings on the HTTP API and publishes them.
	RoleIngest Role = "ingest"
)

// AllRoles is the default: a node does everything.
var AllRoles = []Role{RoleBroadcast, RoleEngine, RoleIngest}

// ParseRoles parses a comma-separated list ("broadcast,engine"); empty
// means AllRoles.
func ParseRoles(s string) ([]Role, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(AllRoles), nil
	}
	var out []Role
	for part := range strings.SplitSeq(s, ",") {
		r := Role(strings.ToLower(strings.TrimSpace(part)))
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("roles: %q is not one of broadcast, engine, ingest", part)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Embedded is the Config.NATS value that starts an in-process nats-server.
const Embedded = "embedded"

// Defaults applied to zero fields of Config.
const (
	DefaultEmbeddedListen = "127.0.0.1:4222"
	DefaultPrefix         = "stellarfeed"
	DefaultHeartbeat      = time.Second
	DefaultNodeTTL        = 5 * time.Second
	DefaultConnsInterval  = 200 * time.Millisecond
	DefaultClaimWindow    = 10 * time.Minute
	DefaultClaimTimeout   = 2 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// Config is one node's cluster setup. Only NATS is required (and DataDir
// with NATS "embedded"); every other zero field takes its default.
type Config struct {
	// NATS is "embedded" or a server URL list ("nats://10.0.0.5:4222",
	// comma-separated for a NATS cluster).
	NATS string
	// EmbeddedListen is where the embedded server listens (default
	// 127.0.0.1:4222; port 0 picks a free one, for tests). With NATS
	// "embedded", the first process on the box that binds it runs the
	// server and the others connect to it as plain clients.
	EmbeddedListen string
	// DataDir holds the embedded server's JetStream files (under
	// DataDir/nats). Required with NATS "embedded".
	DataDir string
	// NodeID names this node in membership, connection counts and claims:
	// 1–64 letters, digits, '-' or '_'. Default: host name and process id.
	NodeID string
	// Roles this node plays; empty means all.
	Roles []Role
	// Prefix namespaces the subjects and KV buckets, so several
	// deployments can share one NATS (default "stellarfeed").
	Prefix string

	// Heartbeat is how often a node refreshes its membership entry
	// (default 1s); NodeTTL how long a silent node stays a member
	// (default 5s): a crashed engine node's targets move after at most
	// NodeTTL + Heartbeat.
	Heartbeat, NodeTTL time.Duration
	// ConnsInterval is how often per-key connection counts are published
	// (default 200ms): the MaxConns consistency window (see doc.go).
	ConnsInterval time.Duration
	// ClaimWindow: a restock (site, region, sku, offer) claimed by one
	// engine node is not pinged again by any node for this long. Set it to
	// the engine's dedupe cooldown (default 10m, the engine's default).
	ClaimWindow time.Duration
	// ClaimTimeout bounds one claim; past it the restock is emitted
	// anyway (default 2s): a duplicate beats a lost restock.
	ClaimTimeout time.Duration
	// ConnectTimeout bounds the first connection to NATS (default 10s);
	// after it, the client reconnects forever.
	ConnectTimeout time.Duration
	// Replicas of the JetStream KV buckets (default 1; 3 on a 3-server
	// NATS cluster).
	Replicas int

	// Metrics receives the bus and cluster metrics; nil means a private set.
	Metrics *metrics.Set
}

// withDefaults validates c and fills zero fields; errors name the field.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("cluster.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.NATS == "":
		bad("nats", `required: "embedded" or a nats:// URL`)
	case c.NATS == Embedded:
		if c.DataDir == "" {
			bad("dataDir", `required with nats "embedded" (JetStream files)`)
		}
		if c.EmbeddedListen == "" {
			c.EmbeddedListen = DefaultEmbeddedListen
		}
		if _, _, err := net.SplitHostPort(c.EmbeddedListen); err != nil {
			bad("embeddedListen", "%q is not host:port: %v", c.EmbeddedListen, err)
		}
	default:
		for u := range strings.SplitSeq(c.NATS, ",") {
			u = strings.TrimSpace(u)
			if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
				bad("nats", `%q: want "embedded" or nats://host:port`, u)
			}
		}
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = sanitizeID(fmt.Sprintf("%s-%d", host, os.Getpid()))
	}
	if !validID(c.NodeID) {
		bad("nodeID", "%q must be 1-64 letters, digits, '-' or '_'", c.NodeID)
	}
	if len(c.Roles) == 0 {
		c.Roles = slices.Clone(AllRoles)
	}
	for i, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			bad(fmt.Sprintf("roles[%d]", i), "%q is not one of broadcast, engine, ingest", r)
		}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !validID(c.Prefix) {
		bad("prefix", "%q must be 1-64 letters, digits, '-' or '_'", c.Prefix)
	}
	dur := func(field string, p *time.Duration, def time.Duration) {
		switch {
		case *p < 0:
			bad(field, "must not be negative, got %s", *p)
		case *p == 0:
			*p = def
		}
	}
	dur("heartbeat", &c.Heartbeat, DefaultHeartbeat)
	dur("nodeTTL", &c.NodeTTL, DefaultNodeTTL)
	dur("connsInterval", &c.ConnsInterval, DefaultConnsInterval)
	dur("claimWindow", &c.ClaimWindow, DefaultClaimWindow)
	dur("claimTimeout", &c.ClaimTimeout, DefaultClaimTimeout)
	dur("connectTimeout", &c.ConnectTimeout, DefaultConnectTimeout)
	if c.NodeTTL < 2*c.Heartbeat {
		bad("nodeTTL", "must be at least twice the heartbeat (%s), got %s", c.Heartbeat, c.NodeTTL)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		bad("replicas", "must be 1 to 5, got %d", c.Replicas)
	} else if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return c, errors.Join(errs...)
}

// Has reports whether the node plays role r.
func (c Config) Has(r Role) bool { return slices.Contains(c.Roles, r) }

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return false
		}
	}
	return true
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// sanitizeID turns a host name into a valid NodeID.
func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !idChar(c) {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[len(b)-64:]
	}
	return string(b)
}
