package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestAdminErrors(t *testing.T) {
	e := newEnv(t, Config{})
	_, revKey := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber})
	e.st.Revoke(revKey.ID)
	adm := func(extra ...string) []string {
		return append([]string{"Authorization", "Bearer " + e.admin}, extra...)
	}
	js := adm("Content-Type", "application/json")
	tests := []struct {
		name, method, path string
		hdr                []string
		body               string
		status             int
		want               string
	}{
		{"no token", "GET", "/api/admin/keys", nil, "", 401, `{"error":"missing key"}`},
		{"ingest token", "GET", "/api/admin/keys", []string{"Authorization", "Bearer " + e.ingest}, "", 401, `{"error":"unknown key"}`},
		{"subscriber key", "GET", "/api/admin/keys", []string{"Authorization", "Bearer " + e.sub}, "", 401, `{"error":"unknown key"}`},
		{"unknown path", "GET", "/api/admin/users", adm(), "", 404, `{"error":"not found"}`},
		{"too deep", "GET", "/api/admin/keys/a/b/c", adm(), "", 404, `{"error":"not found"}`},
		{"unknown id", "GET", "/api/admin/keys/0123456789", adm(), "", 404, `{"error":"key not found"}`},
		{"delete unknown", "DELETE", "/api/admin/keys/0123456789", adm(), "", 404, `{"error":"key not found"}`},
		{"delete by secret refused", "DELETE", "/api/admin/keys/" + e.sub, adm(), "", 400, `{"error":"a secret does not belong in a URL: name the key by its ID, or POST the secret to /api/admin/keys/lookup"}`},
		{"lookup of a non-secret", "POST", "/api/admin/keys/lookup", js, `{"secret":"` + revKey.ID + `"}`, 400, `{"error":"secret: not a key secret (sfk_, sfi_ or sfa_ followed by 32 characters)","field":"secret"}`},
		{"lookup GET", "GET", "/api/admin/keys/lookup", adm(), "", 405, `{"error":"method not allowed"}`},
		{"empty patch", "PATCH", "/api/admin/keys/" + revKey.ID, js, `{}`, 400, `{"error":"patch: no setting to change","field":"patch"}`},
		{"typo in a scope", "POST", "/api/admin/keys", js, `{"scopes":["amazn"]}`, 400, `{"error":"scopes[0]: \"amazn\": unknown site \"amazn\"; did you mean \"amazon\"?","field":"scopes[0]"}`},
		{"put", "PUT", "/api/admin/keys", adm(), "", 405, `{"error":"method not allowed"}`},
		{"rotate GET", "GET", "/api/admin/keys/" + revKey.ID + "/rotate", adm(), "", 405, `{"error":"method not allowed"}`},
		{"rotate revoked", "POST", "/api/admin/keys/" + revKey.ID + "/rotate", adm(), "", 409, `{"error":"rotate \"` + revKey.ID + `\": key is revoked: conflict"}`},
		{"create no content type", "POST", "/api/admin/keys", adm(), `{"kind":"subscriber"}`, 415, `{"error":"Content-Type must be application/json"}`},
		{"create unknown field", "POST", "/api/admin/keys", js, `{"kind":"subscriber","maxconn":3}`, 400, `{"error":"invalid JSON body: unknown field \"maxconn\""}`},
		{"create wrong type", "POST", "/api/admin/keys", js, `{"maxConns":"3"}`, 400, `{"error":"invalid JSON body: cannot unmarshal string into Go struct field KeyRequest.maxConns of type int"}`},
		{"create garbage", "POST", "/api/admin/keys", js, `{"kind":`, 400, `{"error":"invalid JSON body: unexpected EOF"}`},
		{"create two objects", "POST", "/api/admin/keys", js, `{} {}`, 400, `{"error":"invalid JSON body: data after the object"}`},
		{"create bad kind", "POST", "/api/admin/keys", js, `{"kind":"root"}`, 400, `{"error":"kind: \"root\" is not one of subscriber, ingest, admin","field":"kind"}`},
		{"create bad scope", "POST", "/api/admin/keys", js, `{"scopes":["amazon:XX"]}`, 400, `{"error":"scopes[0]: \"amazon:XX\": region is not one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU","field":"scopes[0]"}`},
		{"create bad expiry", "POST", "/api/admin/keys", js, `{"expires":"tomorrow"}`, 400, `{"error":"expires: \"tomorrow\" is neither an RFC 3339 time nor a positive duration such as \"720h\"","field":"expires"}`},
		{"create quota on subscriber", "POST", "/api/admin/keys", js, `{"monthlyQuota":5}`, 400, `{"error":"monthlyQuota: only for ingest tokens","field":"monthlyQuota"}`},
		{"patch revoked", "PATCH", "/api/admin/keys/" + revKey.ID, js, `{"label":"x"}`, 409, `{"error":"update \"` + revKey.ID + `\": key is revoked: conflict"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := e.do(t, tt.method, tt.path, []byte(tt.body), tt.hdr...)
			if status != tt.status || body != tt.want+"\n" {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tt.status, tt.want)
			}
		})
	}
}

// TestAdminCRUDWithClient runs the admin API through Client, as the CLI does.
func TestAdminCRUDWithClient(t *testing.T) {
	e := newEnv(t, Config{})
	var changes []keys.Change
	e.st.Subscribe(func(c keys.Change) { changes = append(changes, c) })
	c := NewClient("http://stellarfeed.test/", e.admin, e.httpClient())
	ctx := context.Background()

	created, err := c.Create(ctx, KeyRequest{Kind: "subscriber", Label: "discord-bot", Expires: "720h", MaxConns: 3, Scopes: []string{"amazon:USA", "walmart"}})
	if err != nil {
		t.Fatal(err)
	}
	k := created.Key
	if !strings.HasPrefix(created.Secret, "sfk_") || k.Label != "discord-bot" || k.MaxConns != 3 || !k.Expires.Equal(t0.Add(720*time.Hour)) {
		t.Fatalf("created %+v", created)
	}
	if _, err := e.st.Check(created.Secret, keys.KindSubscriber, t0); err != nil {
		t.Fatalf("created secret does not work: %v", err)
	}

	list, err := c.List(ctx)
	if err != nil || len(list.Keys) != 4 { // ingest, admin, subscriber from newEnv + this one
		t.Fatalf("list: %d keys, %v", len(list.Keys), err)
	}
	if _, ok := list.Usage[k.ID]; !ok {
		t.Fatalf("list carries no usage for %s: %+v", k.ID, list.Usage)
	}
	// The secret appears in no answer but the create one.
	status, body, _ := e.do(t, "GET", "/api/admin/keys", nil, "Authorization", "Bearer "+e.admin)
	if status != 200 || strings.Contains(body, created.Secret[4:]) || strings.Contains(body, "hash") {
		t.Fatalf("list body leaks a secret or hash: %s", body)
	}

	info, err := c.Get(ctx, k.ID)
	if err != nil || info.Key.ID != k.ID || info.Usage == nil {
		t.Fatalf("get: %+v %v", info, err)
	}

	label, never, conns := "renamed", "never", 10
	upInfo, err := c.Update(ctx, k.ID, KeyPatch{Label: &label, Expires: &never, MaxConns: &conns})
	up := upInfo.Key
	if err != nil || up.Label != "renamed" || !up.Expires.IsZero() || up.MaxConns != 10 || len(up.Scopes) != 2 {
		t.Fatalf("update: %+v %v", up, err)
	}
	bad := -1
	var ae *APIError
	if _, err := c.Update(ctx, k.ID, KeyPatch{MaxConns: &bad}); !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "maxConns" {
		t.Fatalf("bad update: %v", err)
	}

	rot, err := c.Rotate(ctx, k.ID)
	if err != nil || rot.Secret == created.Secret || rot.Key.ID != k.ID {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	if _, err := e.st.Check(created.Secret, keys.KindSubscriber, t0); !errors.Is(err, keys.ErrUnknown) {
		t.Fatalf("old secret after rotate: %v", err)
	}

	revInfo, err := c.Revoke(ctx, k.ID)
	rev := revInfo.Key
	if err != nil || rev.Revoked.IsZero() {
		t.Fatalf("revoke: %+v %v", rev, err)
	}
	if _, err := e.st.Check(rot.Secret, keys.KindSubscriber, t0); !errors.Is(err, keys.ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	if _, err := c.Get(ctx, "nope"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	if _, err := c.Rotate(ctx, k.ID); !errors.Is(err, keys.ErrConflict) {
		t.Fatalf("rotate revoked: %v", err)
	}
	if _, err := NewClient("http://stellarfeed.test", "sfa_wrong", e.httpClient()).List(ctx); !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "unknown key" {
		t.Fatalf("wrong admin token: %v", err)
	}

	ops := []keys.Op{keys.OpCreated, keys.OpUpdated, keys.OpRotated, keys.OpRevoked}
	if len(changes) != len(ops) {
		t.Fatalf("%d changes observed, want %d", len(changes), len(ops))
	}
	for i, op := range ops {
		if changes[i].Op != op || changes[i].Key.ID != k.ID {
			t.Errorf("change %d: %s %s", i, changes[i].Op, changes[i].Key.ID)
		}
	}
	if !changes[3].CutsAccess() {
		t.Error("revocation does not cut access")
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, Config{})
	check := func(method, path string, wantStatus int, wantBody string) {
		t.Helper()
		status, body, _ := e.do(t, method, path, nil)
		if status != wantStatus || body != wantBody {
			t.Errorf("%s %s = %d %q, want %d %q", method, path, status, body, wantStatus, wantBody)
		}
	}
	check("GET", "/healthz", 200, "ok\n")
	check("HEAD", "/healthz", 200, "")
	check("GET", "/readyz", 200, "ok\n")
	e.ready = errors.New("engine starting")
	check("GET", "/readyz", 503, "not ready: engine starting\n")
	e.ready = nil
	check("GET", "/readyz", 200, "ok\n")
	check("POST", "/healthz", 405, `{"error":"method not allowed"}`+"\n")
	check("GET", "/nope", 404, `{"error":"not found"}`+"\n")
	status, body, _ := e.do(t, "GET", "/metrics", nil)
	if status != 200 || !strings.Contains(body, `stellarfeed_ingest_requests_total{code="202"} 0`) {
		t.Errorf("metrics: %d %s", status, body)
	}
}

// TestServeTCP serves on 127.0.0.1:0 and checks the Serve/Shutdown contract.
func TestServeTCP(t *testing.T) {
	st := openStore(t)
	tok, _ := mustCreate(t, st, keys.Options{Kind: keys.KindIngest})
	pub := &fakePub{}
	a := New(Config{}, Deps{Publisher: pub, Keys: st})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()

	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	body := testutil.Testdata(t, "ping_amazon.json")
	req := "POST /api/pings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
		"\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + string(body)
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var resp []byte
	for {
		n, err := conn.Read(buf)
		resp = append(resp, buf[:n]...)
		if err != nil {
			break
		}
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 202") || !strings.HasSuffix(string(resp), `{"accepted":1}`+"\n") {
		t.Fatalf("response %q", resp)
	}
	if msgs := pub.take(); len(msgs) != 1 {
		t.Fatalf("published %d", len(msgs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	if err := a.Serve(ln2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
