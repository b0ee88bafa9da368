package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error naming the field; "" = valid
	}{
		{"url", Config{NATS: "nats://10.0.0.5:4222", NodeID: "ws-1"}, ""},
		{"url list", Config{NATS: "nats://a:4222, nats://b:4222", NodeID: "ws-1"}, ""},
		{"embedded", Config{NATS: Embedded, DataDir: "/tmp/x"}, ""},
		{"missing nats", Config{}, "cluster.nats: required"},
		{"http url", Config{NATS: "http://a:4222"}, "cluster.nats"},
		{"embedded without data", Config{NATS: Embedded}, "cluster.dataDir"},
		{"bad listen", Config{NATS: Embedded, DataDir: "d", EmbeddedListen: "4222"}, "cluster.embeddedListen"},
		{"bad node id", Config{NATS: "nats://a:1", NodeID: "ws 1"}, "cluster.nodeID"},
		{"dotted node id", Config{NATS: "nats://a:1", NodeID: "ws.1"}, "cluster.nodeID"},
		{"bad role", Config{NATS: "nats://a:1", Roles: []Role{"web"}}, "cluster.roles[0]"},
		{"bad prefix", Config{NATS: "nats://a:1", Prefix: "a.b"}, "cluster.prefix"},
		{"negative heartbeat", Config{NATS: "nats://a:1", Heartbeat: -time.Second}, "cluster.heartbeat"},
		{"ttl below 2 beats", Config{NATS: "nats://a:1", Heartbeat: time.Second, NodeTTL: time.Second}, "cluster.nodeTTL"},
		{"replicas", Config{NATS: "nats://a:1", Replicas: 7}, "cluster.replicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !validID(got.NodeID) || len(got.Roles) != 3 || got.NodeTTL != DefaultNodeTTL || got.Replicas != 1 || got.Metrics == nil {
					t.Fatalf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to name %q", err, tt.want)
			}
		})
	}
	if id := sanitizeID("host.example.com-12"); !validID(id) {
		t.Fatalf("sanitizeID gave %q", id)
	}
}

func TestParseRoles(t *testing.T) {
	f := func(in string, want []Role, ok bool) {
		t.Helper()
		got, err := ParseRoles(in)
		if (err == nil) != ok || ok && !slices.Equal(got, want) {
			t.Fatalf("ParseRoles(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	f("", AllRoles, true)
	f("broadcast", []Role{RoleBroadcast}, true)
	f(" Engine , ingest,engine", []Role{RoleEngine, RoleIngest}, true)
	f("broadcast,web", nil, false)
}
