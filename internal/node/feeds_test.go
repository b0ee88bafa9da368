package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// wsClient is a WebSocket client that keeps the bytes the dialer read
// past the 101 (the /ws connected message may be among them).
type wsClient struct {
	net.Conn
	r io.Reader
}

func (c *wsClient) Read(p []byte) (int, error) { return c.r.Read(p) }

func dialWS(t *testing.T, n *Node, pathQuery string, hdr http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{}
	if hdr != nil {
		d.Header = ws.HandshakeHeaderHTTP(hdr)
	}
	c, br, _, err := d.Dial(ctx, fmt.Sprintf("ws://%s%s", n.WSAddr(), pathQuery))
	if err != nil {
		t.Fatalf("dial %s: %v", pathQuery, err)
	}
	t.Cleanup(func() { c.Close() })
	wc := &wsClient{Conn: c, r: c}
	if br != nil {
		wc.r = io.MultiReader(br, c)
	}
	return wc
}

// next returns the next text message, within 5 s.
func (c *wsClient) next(t *testing.T) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		data, op, err := wsutil.ReadServerData(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if op != ws.OpText {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		return m
	}
}

func (c *wsClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// sseClient reads an event stream; its goroutine ends when the test does.
type sseClient struct {
	events chan sseEv
	wg     sync.WaitGroup
}

type sseEv struct{ id, typ, data string }

func dialSSE(t *testing.T, n *Node, query string, hdr http.Header) *sseClient {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/events/stream?%s", n.APIAddr(), query), nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("stream %s: %d %s", query, resp.StatusCode, b)
	}
	s := &sseClient{events: make(chan sseEv, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEv
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					s.events <- ev
				}
				ev = sseEv{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		s.wg.Wait()
	})
	return s
}

func (s *sseClient) next(t *testing.T) sseEv {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return sseEv{}
}

func post(t *testing.T, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	return request(t, "POST", url, hdr, body)
}

// request sends a JSON request with extra headers and returns the answer.
func request(t *testing.T, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// webhookID posts body to a slug and returns the accepted event's id.
func webhookID(t *testing.T, n *Node, slug string, hdr map[string]string, body string) string {
	t.Helper()
	code, resp := post(t, fmt.Sprintf("http://%s/api/in/%s", n.APIAddr(), slug), hdr, body)
	var r struct {
		Accepted bool   `json:"accepted"`
		ID       string `json:"id"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(resp), &r) != nil || !r.Accepted || r.ID == "" {
		t.Fatalf("POST /api/in/%s = %d %s", slug, code, resp)
	}
	return r.ID
}

func mustCreate(t *testing.T, st *keys.Store, o keys.Options) string {
	t.Helper()
	sec, _, err := st.Create(o)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestFeedIsolation tries to cross feeds every way a client could: a
// subscriber of one feed, on every endpoint (Stellar WebSocket with ?key=
// and ?token=, /ws, SSE), must receive its feed's events only, whatever
// slug, token, channel or resume id is used, and an admin token of one
// feed must not see or touch another's. Absence is asserted by order:
// each connection's next message after the crossing attempt is the
// marker of its own feed, published after the foreign events.
func TestFeedIsolation(t *testing.T) {
	n := startNode(t, Config{})
	st := n.Keys()
	for _, o := range []keys.FeedOptions{
		{Name: "alpha", Kind: keys.FeedWebhook, Slugs: []string{"alpha-hooks"}},
		{Name: "beta", Kind: keys.FeedWebhook, Slugs: []string{"beta-hooks"}, RequireToken: true},
		{Name: "eu", Kind: keys.FeedStellar},
	} {
		if _, err := st.CreateFeed(o); err != nil {
			t.Fatal(err)
		}
	}
	subA := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber, Feed: "alpha"})
	subB := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber, Feed: "beta"})
	subD := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber})
	subE := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber, Feed: "eu"})
	inA := mustCreate(t, st, keys.Options{Kind: keys.KindIngest, Feed: "alpha"})
	inB := mustCreate(t, st, keys.Options{Kind: keys.KindIngest, Feed: "beta"})
	inD := mustCreate(t, st, keys.Options{Kind: keys.KindIngest})
	inE := mustCreate(t, st, keys.Options{Kind: keys.KindIngest, Feed: "eu"})
	adminA := mustCreate(t, st, keys.Options{Kind: keys.KindAdmin, Feed: "alpha"})

	wsA := dialWS(t, n, "/?token="+subA, nil)
	wsB := dialWS(t, n, "/?key="+subB, nil)
	wsD := dialWS(t, n, "/?key="+subD, nil)
	wsE := dialWS(t, n, "/stellar?key="+subE, nil)
	rtA := dialWS(t, n, "/ws?token="+subA, nil)
	rtB := dialWS(t, n, "/ws?key="+subB, nil)
	rtD := dialWS(t, n, "/ws?key="+subD, nil)
	for _, c := range []*wsClient{rtA, rtB, rtD} {
		if m := c.next(t); m["type"] != "connected" {
			t.Fatalf("first /ws message %v", m)
		}
	}
	rtA.send(t, `{"type":"subscribe","channel":"*"}`)
	rtB.send(t, `{"type":"subscribe","channel":"user.signup"}`) // the channel alpha posts too
	rtD.send(t, `{"type":"subscribe","channel":"*"}`)
	for _, c := range []*wsClient{rtA, rtB, rtD} {
		if m := c.next(t); m["type"] != "subscribed" {
			t.Fatalf("ack %v", m)
		}
	}
	sseA := dialSSE(t, n, "token="+subA, nil)
	sseB := dialSSE(t, n, "key="+subB, nil)
	sseD := dialSSE(t, n, "key="+subD, nil)
	waitConns(t, n, 7)
	waitSSE(t, n, 3)

	api := "http://" + n.APIAddr().String()
	signup := `{"event": "user.signup", "email": "test@example.com"}`
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	// Another feed's slug and token: beta requires its own token.
	if code, body := post(t, api+"/api/in/beta-hooks", nil, signup); code != http.StatusUnauthorized {
		t.Fatalf("beta without a token: %d %s", code, body)
	}
	if code, body := post(t, api+"/api/in/beta-hooks", bearer(inA), signup); code != http.StatusUnauthorized {
		t.Fatalf("beta with alpha's token: %d %s", code, body)
	}
	if code, body := post(t, api+"/api/in/beta-hooks?token="+inD, nil, signup); code != http.StatusUnauthorized {
		t.Fatalf("beta with the default feed's token: %d %s", code, body)
	}

	a1 := webhookID(t, n, "alpha-hooks", nil, signup)
	b1 := webhookID(t, n, "beta-hooks", bearer(inB), signup)
	if code, body := postPings(t, n, inE, `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"e1"}`); code != http.StatusAccepted {
		t.Fatalf("eu ping: %d %s", code, body)
	}
	if code, body := postPings(t, n, inD, `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"d1"}`); code != http.StatusAccepted {
		t.Fatalf("default ping: %d %s", code, body)
	}
	// A webhook feed's token on /api/pings posts into its own feed.
	code, body := postPings(t, n, inA, `{"type":"order.paid","n":2}`)
	var r struct{ ID string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || r.ID == "" {
		t.Fatalf("alpha token on /api/pings: %d %s", code, body)
	}
	a2 := r.ID
	// Markers, published after everything above.
	b2 := webhookID(t, n, "beta-hooks", map[string]string{"Authorization": "Bearer " + inB}, `{"type":"user.signup","n":3}`)
	postPings(t, n, inE, `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"e2"}`)
	postPings(t, n, inD, `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"d2"}`)

	webhookOf := func(m map[string]any) string {
		if m["type"] != "webhook" {
			t.Fatalf("not a webhook event: %v", m)
		}
		return m["id"].(string)
	}
	offerOf := func(m map[string]any) string { return fmt.Sprint(m["offerId"]) }
	expect := func(who string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s received %v, want %v", who, got, want)
		}
	}
	// Stellar-endpoint WebSocket: the bare event or ping, one per frame.
	expect("alpha ws", []string{webhookOf(wsA.next(t)), webhookOf(wsA.next(t))}, a1, a2)
	expect("beta ws", []string{webhookOf(wsB.next(t)), webhookOf(wsB.next(t))}, b1, b2)
	expect("default ws", []string{offerOf(wsD.next(t)), offerOf(wsD.next(t))}, "d1", "d2")
	expect("eu ws", []string{offerOf(wsE.next(t)), offerOf(wsE.next(t))}, "e1", "e2")

	// /ws envelopes; beta subscribed to the channel alpha posted to.
	envID := func(m map[string]any) string {
		data, _ := m["data"].(map[string]any)
		if m["event"] == "ping" {
			return offerOf(data)
		}
		return webhookOf(data)
	}
	expect("alpha /ws", []string{envID(rtA.next(t)), envID(rtA.next(t))}, a1, a2)
	expect("beta /ws", []string{envID(rtB.next(t)), envID(rtB.next(t))}, b1, b2)
	expect("default /ws", []string{envID(rtD.next(t)), envID(rtD.next(t))}, "d1", "d2")

	// SSE: webhook events as plain data (onmessage), pings as "ping".
	sseID := func(s *sseClient, want string) (string, string) {
		ev := s.next(t)
		if ev.typ != want {
			t.Fatalf("SSE event type %q, want %q", ev.typ, want)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatal(err)
		}
		if want == "ping" {
			return offerOf(m), ev.id
		}
		return webhookOf(m), ev.id
	}
	a1s, _ := sseID(sseA, "")
	a2s, _ := sseID(sseA, "")
	expect("alpha SSE", []string{a1s, a2s}, a1, a2)
	b1s, b1Event := sseID(sseB, "")
	b2s, _ := sseID(sseB, "")
	expect("beta SSE", []string{b1s, b2s}, b1, b2)
	d1s, _ := sseID(sseD, "ping")
	d2s, _ := sseID(sseD, "ping")
	expect("default SSE", []string{d1s, d2s}, "d1", "d2")

	// SSE resume with another feed's event id: alpha's events after that
	// point in time (a2), never beta's (b2).
	resumed := dialSSE(t, n, "key="+subA, http.Header{"Last-Event-Id": {b1Event}})
	ra, _ := sseID(resumed, "")
	expect("alpha resumed from beta's id", []string{ra}, a2)
	a3 := webhookID(t, n, "alpha-hooks", nil, `{"event":"x"}`)
	ra, _ = sseID(resumed, "")
	expect("alpha resumed, live", []string{ra}, a3)

	// An admin token of feed alpha sees and manages alpha only.
	admin := func(method, path, body string) (int, string) {
		return request(t, method, api+path, bearer(adminA), body)
	}
	idB, _ := st.Check(subB, keys.KindSubscriber, time.Now())
	idA, _ := st.Check(subA, keys.KindSubscriber, time.Now())
	code, body = admin("GET", "/api/admin/keys", "")
	if code != 200 || strings.Contains(body, idB.ID) || !strings.Contains(body, idA.ID) {
		t.Errorf("scoped key list: %d %s", code, body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/admin/keys/" + idB.ID, ""},
		{"PATCH", "/api/admin/keys/" + idB.ID, `{"label":"x"}`},
		{"DELETE", "/api/admin/keys/" + idB.ID, ""},
		{"POST", "/api/admin/keys/" + idB.ID + "/rotate", ""},
		{"GET", "/api/admin/feeds/beta", ""},
		{"GET", "/api/admin/usage?feed=beta", ""},
	} {
		if code, body := admin(c.method, c.path, c.body); code != http.StatusNotFound {
			t.Errorf("%s %s with alpha's admin token: %d %s", c.method, c.path, code, body)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/admin/keys", `{"feed":"beta"}`},
		{"POST", "/api/admin/feeds", `{"name":"gamma"}`},
		{"PATCH", "/api/admin/feeds/alpha", `{"monthlyQuota":0}`},
		{"DELETE", "/api/admin/feeds/beta", ""},
	} {
		if code, body := admin(c.method, c.path, c.body); code != http.StatusForbidden {
			t.Errorf("%s %s with alpha's admin token: %d %s", c.method, c.path, code, body)
		}
	}
	if code, body := admin("GET", "/api/admin/feeds", ""); code != 200 || strings.Contains(body, `"beta"`) || !strings.Contains(body, `"alpha"`) {
		t.Errorf("scoped feed list: %d %s", code, body)
	}
	code, body = admin("POST", "/api/admin/keys", `{"label":"alpha customer"}`)
	if code != http.StatusCreated || !strings.Contains(body, `"feed":"alpha"`) {
		t.Errorf("scoped create lands in its feed: %d %s", code, body)
	}
	code, body = admin("GET", "/api/admin/connections", "")
	var cl struct {
		Total int            `json:"total"`
		ByKey map[string]int `json:"byKey"`
	}
	// Its two WebSocket connections and its two event streams: the list
	// shows SSE streams too.
	if code != 200 || json.Unmarshal([]byte(body), &cl) != nil || cl.Total != 4 || cl.ByKey[idA.ID] != 4 {
		t.Errorf("scoped connections (alpha has 2 WebSocket connections and 2 SSE streams): %d %s", code, body)
	}
}

// waitSSE waits until k event streams are subscribed.
func waitSSE(t *testing.T, n *Node, k int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.events.Stats().Subscribers < k {
		if time.Now().After(deadline) {
			t.Fatalf("%d SSE subscribers, want %d", n.events.Stats().Subscribers, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebhookRelayContract posts to a webhook feed exactly as the relay
// service documents, and checks every documented answer.
func TestWebhookRelayContract(t *testing.T) {
	n := startNode(t, Config{API: api.Config{CORSOrigins: []string{"https://app.example.com"}}})
	st := n.Keys()
	if _, err := st.CreateFeed(keys.FeedOptions{Name: "relay", Kind: keys.FeedWebhook, Slugs: []string{"acme-relay"}, MonthlyQuota: 2, MaxBytes: 64}); err != nil {
		t.Fatal(err)
	}
	sub := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber, Feed: "relay"})
	sse := dialSSE(t, n, "token="+sub, http.Header{"Origin": {"https://app.example.com"}})
	waitSSE(t, n, 1)
	url := fmt.Sprintf("http://%s/api/in/", n.APIAddr())

	code, body := post(t, url+"acme-relay", nil, `{"event": "user.signup", "email": "test@example.com"}`)
	var ok struct {
		Accepted bool   `json:"accepted"`
		ID       string `json:"id"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &ok) != nil || !ok.Accepted || len(ok.ID) != 16 {
		t.Fatalf("relay example: %d %s", code, body)
	}
	ev := sse.next(t)
	var got struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Payload    json.RawMessage `json:"payload"`
		ReceivedAt string          `json:"receivedAt"`
	}
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if ev.typ != "" || ev.id == "" || got.Type != "webhook" || got.ID != ok.ID ||
		string(got.Payload) != `{"event":"user.signup","email":"test@example.com"}` {
		t.Fatalf("delivered %+v as %+v", ev, got)
	}
	if ts, err := time.Parse("2006-01-02T15:04:05.000Z", got.ReceivedAt); err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("receivedAt %q: %v", got.ReceivedAt, err)
	}

	for _, tt := range []struct {
		name, slug, ctype, body string
		code                    int
		want                    string
	}{
		{"invalid JSON", "acme-relay", "application/json", `{"event":`, 400, "malformed JSON"},
		{"not an object", "acme-relay", "application/json", `"hello"`, 400, "JSON object or array"},
		{"unknown slug", "acme-relya", "application/json", `{}`, 404, "unknown slug"},
		{"too large", "acme-relay", "application/json", `{"pad":"` + strings.Repeat("x", 64) + `"}`, 413, "larger than 64 bytes"},
		{"wrong type", "acme-relay", "application/xml", `<a/>`, 415, "Content-Type"},
		{"array", "acme-relay", "", `[1,2]`, 200, `"accepted":true`},
		{"over quota", "acme-relay", "application/json", `{}`, 402, `"quota":2,"used":2,"reset":"`},
	} {
		req, _ := http.NewRequest("POST", url+tt.slug, strings.NewReader(tt.body))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, resp.StatusCode, b, tt.code, tt.want)
		}
	}

	// CORS for the stream and a preflight.
	req, _ := http.NewRequest("OPTIONS", fmt.Sprintf("http://%s/api/events/stream", n.APIAddr()), nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req.Header.Set("Origin", "https://evil.example.com")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin was allowed")
	}
}

// TestSessionLogin: POST /api/login sets the cookie, /ws takes it instead
// of ?key=, and revoking the key closes that connection with 1008 and
// ends the session; logout ends a session too.
func TestSessionLogin(t *testing.T) {
	n := startNode(t, Config{})
	st := n.Keys()
	sub := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber, Label: "browser"})
	base := fmt.Sprintf("http://%s", n.APIAddr())
	if code, _ := post(t, base+"/api/login", nil, `{"key":"sfk_wrong"}`); code != 401 {
		t.Fatalf("login with a wrong key: %d", code)
	}
	req, _ := http.NewRequest("POST", base+"/api/login", strings.NewReader(`{"key":"`+sub+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sf_session" {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.MaxAge <= 0 {
		t.Fatalf("login: %d %+v", resp.StatusCode, cookie)
	}
	hdr := http.Header{"Cookie": {"theme=dark; sf_session=" + cookie.Value}}
	rt := dialWS(t, n, "/ws", hdr)
	if m := rt.next(t); m["type"] != "connected" {
		t.Fatalf("/ws with the session cookie: %v", m)
	}
	// Without a cookie /ws still refuses with 1008.
	bare := dialWS(t, n, "/ws", nil)
	if code := closeCode(t, bare); code != ws.StatusPolicyViolation {
		t.Fatalf("/ws without key or cookie closed with %d", code)
	}
	id, _ := st.Check(sub, keys.KindSubscriber, time.Now())
	if _, err := st.Revoke(id.ID); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, rt); code != ws.StatusPolicyViolation {
		t.Fatalf("revoked session's /ws closed with %d", code)
	}
	if code := closeCode(t, dialWS(t, n, "/ws", hdr)); code != ws.StatusPolicyViolation {
		t.Fatalf("revoked session reopened /ws: %d", code)
	}

	// Logout ends a session.
	sub2 := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber})
	tok, _, err := st.Login(sub2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, base+"/api/logout", map[string]string{"Cookie": "sf_session=" + tok}, ""); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code := closeCode(t, dialWS(t, n, "/ws", http.Header{"Cookie": {"sf_session=" + tok}})); code != ws.StatusPolicyViolation {
		t.Fatalf("logged-out session opened /ws: %d", code)
	}
}

// closeCode reads until the server's close frame and returns its code.
func closeCode(t *testing.T, c *wsClient) ws.StatusCode {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, err := ws.ReadHeader(c)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(p)
			return code
		}
	}
}

// TestSSEEndsAtKeyExpiry: a stream stops when its key expires, as the
// WebSocket endpoints close with 1008.
func TestSSEEndsAtKeyExpiry(t *testing.T) {
	n := startNode(t, Config{})
	sub := mustCreate(t, n.Keys(), keys.Options{Kind: keys.KindSubscriber, Expires: time.Now().Add(1500 * time.Millisecond)})
	s := dialSSE(t, n, "key="+sub, nil)
	waitSSE(t, n, 1)
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("an event on an idle stream")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5 s after a 1.5 s expiry")
	}
	if n.events.Stats().Subscribers != 0 {
		t.Fatal("subscriber left behind")
	}
}

// TestEngineFeedMustExist: a config that routes restocks into a feed the
// store lacks (or a webhook feed) stops the start with the fix in the
// message, rather than publishing into nothing or the wrong feed.
func TestEngineFeedMustExist(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, RunEngine: true, EngineFeed: "eu", WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0"}
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), `engine.feed: no feed "eu" (create it: stellarfeed feeds create eu)`) {
		t.Fatalf("start with a missing feed: %v", err)
	}
	cfg.EngineFeed, cfg.GroupFeeds = "", map[string]string{"consoles": "relay"}
	db, err := OpenDB(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(db)
	if err == nil {
		_, err = st.CreateFeed(keys.FeedOptions{Name: "relay", Kind: keys.FeedWebhook})
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), `group consoles feed: feed "relay" is a webhook feed`) {
		t.Fatalf("start with a webhook engine feed: %v", err)
	}
}

// TestFeedIsolationCluster: two nodes joined over NATS. A feed created on
// node a reaches node b; a webhook posted to a is delivered to b's
// subscriber of that feed, and not to b's default-feed subscriber, whose
// next message is its own marker published afterwards.
func TestFeedIsolationCluster(t *testing.T) {
	a := startNode(t, Config{Cluster: cluster.Config{NATS: cluster.Embedded, EmbeddedListen: "127.0.0.1:0", NodeID: "a"}})
	b := startNode(t, Config{Cluster: cluster.Config{NATS: a.Cluster().URL(), NodeID: "b"}})
	if _, err := a.Keys().CreateFeed(keys.FeedOptions{Name: "relay", Kind: keys.FeedWebhook, Slugs: []string{"acme-relay"}}); err != nil {
		t.Fatal(err)
	}
	// b numbers feeds for itself: give it one more first.
	if _, err := b.Keys().CreateFeed(keys.FeedOptions{Name: "b-only"}); err != nil {
		t.Fatal(err)
	}
	sub := mustCreate(t, a.Keys(), keys.Options{Kind: keys.KindSubscriber, Feed: "relay"})
	subD := mustCreate(t, a.Keys(), keys.Options{Kind: keys.KindSubscriber})
	inD := mustCreate(t, a.Keys(), keys.Options{Kind: keys.KindIngest})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err1 := b.Keys().Check(sub, keys.KindSubscriber, time.Now())
		_, err3 := b.Keys().Check(subD, keys.KindSubscriber, time.Now())
		_, err2 := b.Keys().FeedNum("relay")
		if err1 == nil && err3 == nil && err2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("feed or key not replicated to b")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rb := dialWS(t, b, "/?token="+sub, nil)
	db := dialWS(t, b, "/?key="+subD, nil)
	waitConns(t, b, 2)
	id := webhookID(t, a, "acme-relay", nil, `{"event": "user.signup", "email": "test@example.com"}`)
	if code, body := postPings(t, a, inD, `{"site":"walmart","sku":"1","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`); code != http.StatusAccepted {
		t.Fatalf("marker: %d %s", code, body)
	}
	if m := rb.next(t); m["type"] != "webhook" || m["id"] != id {
		t.Fatalf("relay subscriber on b got %v, want event %s", m, id)
	}
	if m := db.next(t); m["site"] != "walmart" {
		t.Fatalf("default subscriber on b got %v before its own ping", m)
	}
}
