package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
)

// Doer sends HTTP requests; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Webhook is one Discord webhook and the events it wants.
type Webhook struct {
	// URL is https://discord.com/api/webhooks/{id}/{token}. The token is a
	// secret: logs name the webhook by Name or by its id only.
	URL  string
	Name string
	// Filters; empty means all. An event passes when it matches each
	// non-empty one: Sites (target site or Stellar site name), Regions,
	// Groups, Tags (any tag).
	Sites, Regions, Groups, Tags []string
	// SoldOut also posts sold-out events; restocks are always posted.
	SoldOut bool
	// Username, AvatarURL and Content are sent with every message.
	Username, AvatarURL, Content string
}

// Config configures an Output. Zero values take the defaults given.
type Config struct {
	Webhooks []Webhook
	// QueueSize is the most events waiting per webhook (default 256); past
	// it Emit drops, counts and logs.
	QueueSize int
	// MaxRetries bounds retries of one message after a network error or a
	// 5xx (default 5), with backoff from RetryBase (default 1s) doubling
	// to at most 30s.
	MaxRetries int
	RetryBase  time.Duration
	// MaxRateLimitRetries bounds 429 answers for one message (default 10);
	// MaxWait caps one rate-limit wait (default 60s).
	MaxRateLimitRetries int
	MaxWait             time.Duration
	// FlushTimeout bounds delivery of what is queued when Run's context
	// ends (default 5s).
	FlushTimeout time.Duration
	// Footer is each embed's footer text (default "stellarfeed").
	Footer string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Stats counts what happened to events, per webhook or in total.
type Stats struct {
	// Queued: accepted by Emit. Dropped: refused because the queue was
	// full or the output had stopped.
	Queued, Dropped uint64
	// Messages and Embeds delivered (2xx).
	Messages, Embeds uint64
	// Failed: embeds given up on (4xx, retries exhausted, shutdown).
	Failed uint64
	// RateLimited: 429 answers. Retries: resends after a 5xx or network
	// error.
	RateLimited, Retries uint64
}

// Output posts engine events to Discord webhooks. Emit never blocks; Run
// owns one sender goroutine per webhook.
type Output struct {
	cfg    Config
	client Doer
	log    *slog.Logger
	hooks  []*hook
	// sleep waits d or until ctx ends; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) bool
}

var _ engine.Output = (*Output)(nil)

type hook struct {
	wh      Webhook
	name    string
	q       chan engine.Event
	stopped atomic.Bool

	queued, dropped, messages, embeds, failed, rateLimited, retries atomic.Uint64
	// lastDropLog throttles queue-full logs to one a second; the count
	// is never throttled.
	lastDropLog   atomic.Int64
	droppedLogged atomic.Uint64

	// Rate-limit bucket from the last answer's headers; sender-only.
	remaining int
	resetAt   time.Time
}

// New builds an Output. client is usually an *http.Client with a timeout.
func New(cfg Config, client Doer) *Output {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.MaxRateLimitRetries <= 0 {
		cfg.MaxRateLimitRetries = 10
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Minute
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 5 * time.Second
	}
	if cfg.Footer == "" {
		cfg.Footer = "stellarfeed"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	o := &Output{cfg: cfg, client: client, log: cfg.Logger.With("output", "discord"), sleep: sleepCtx}
	for i, wh := range cfg.Webhooks {
		name := wh.Name
		if name == "" {
			name = webhookName(wh.URL, i)
		}
		o.hooks = append(o.hooks, &hook{wh: wh, name: name, q: make(chan engine.Event, cfg.QueueSize), remaining: -1})
	}
	return o
}

// webhookName names a webhook by its id, never its token.
func webhookName(raw string, i int) string {
	if u, err := url.Parse(raw); err == nil {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		for j := 0; j+1 < len(parts); j++ {
			if parts[j] == "webhooks" {
				return "webhook " + parts[j+1]
			}
		}
		if u.Host != "" {
			return fmt.Sprintf("webhook %d (%s)", i, u.Host)
		}
	}
	return fmt.Sprintf("webhook %d", i)
}

// Emit queues ev for every webhook whose filters it passes. It never
// blocks: a full queue drops the event, counts it and logs (at most once a
// second per webhook, with the count).
func (o *Output) Emit(ev engine.Event) {
	for _, h := range o.hooks {
		if !h.wh.matches(&ev) {
			continue
		}
		if h.stopped.Load() {
			o.drop(h, "output stopped")
			continue
		}
		select {
		case h.q <- ev:
			h.queued.Add(1)
		default:
			o.drop(h, "queue full")
		}
	}
}

func (o *Output) drop(h *hook, reason string) {
	n := h.dropped.Add(1)
	now := time.Now().UnixNano()
	last := h.lastDropLog.Load()
	if now-last < int64(time.Second) || !h.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	since := n - h.droppedLogged.Swap(n)
	o.log.Warn("discord event dropped", "webhook", h.name, "reason", reason, "dropped", since, "dropped_total", n, "queue", cap(h.q))
}

func (w *Webhook) matches(ev *engine.Event) bool {
	switch ev.Kind {
	case engine.Restock:
	case engine.SoldOut:
		if !w.SoldOut {
			return false
		}
	default:
		return false
	}
	if len(w.Sites) > 0 && !slices.Contains(w.Sites, ev.Target.Site) && !slices.Contains(w.Sites, ev.Ping.Site) {
		return false
	}
	if len(w.Regions) > 0 {
		r := ev.Target.Region
		if r == "" {
			r = ev.Ping.Region
		}
		if !slices.Contains(w.Regions, r) {
			return false
		}
	}
	if len(w.Groups) > 0 && !slices.Contains(w.Groups, ev.Group) {
		return false
	}
	if len(w.Tags) > 0 && !slices.ContainsFunc(ev.Tags, func(t string) bool { return slices.Contains(w.Tags, t) }) {
		return false
	}
	return true
}

// Stats returns the totals over all webhooks.
func (o *Output) Stats() Stats {
	var s Stats
	for _, h := range o.hooks {
		hs := h.stats()
		s.Queued += hs.Queued
		s.Dropped += hs.Dropped
		s.Messages += hs.Messages
		s.Embeds += hs.Embeds
		s.Failed += hs.Failed
		s.RateLimited += hs.RateLimited
		s.Retries += hs.Retries
	}
	return s
}

// WebhookStats returns the counts of each webhook, in config order.
func (o *Output) WebhookStats() []Stats {
	out := make([]Stats, len(o.hooks))
	for i, h := range o.hooks {
		out[i] = h.stats()
	}
	return out
}

func (h *hook) stats() Stats {
	return Stats{
		Queued: h.queued.Load(), Dropped: h.dropped.Load(),
		Messages: h.messages.Load(), Embeds: h.embeds.Load(), Failed: h.failed.Load(),
		RateLimited: h.rateLimited.Load(), Retries: h.retries.Load(),
	}
}

// Run sends queued events until ctx ends, then tries for FlushTimeout to
// deliver what is still queued; what it cannot is counted as failed and
// logged. It returns when every sender has stopped. Call it once.
func (o *Output) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, h := range o.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.send(ctx, h)
		}()
	}
	wg.Wait()
	return nil
}

func (o *Output) send(ctx context.Context, h *hook) {
	var carry *engine.Event
	for {
		var first engine.Event
		if carry != nil {
			first, carry = *carry, nil
		} else {
			select {
			case <-ctx.Done():
				o.flush(ctx, h, nil, nil)
				return
			case first = <-h.q:
			}
		}
		msg, next := o.batch(h, first)
		carry = next
		if o.deliver(ctx, h, msg) {
			// Interrupted by shutdown: msg and carry go first in the flush.
			o.flush(ctx, h, msg, carry)
			return
		}
	}
}

// batch packs first and whatever else is queued into one message: at most
// 10 embeds and 6000 characters together. An event that does not fit is
// returned to start the next message.
func (o *Output) batch(h *hook, first engine.Event) (*Message, *engine.Event) {
	msg := &Message{
		Username:  Truncate(h.wh.Username, maxUsername),
		AvatarURL: validURL(h.wh.AvatarURL),
		Content:   Truncate(h.wh.Content, maxContent),
	}
	e := BuildEmbed(&first, o.cfg.Footer)
	msg.Embeds = append(msg.Embeds, e)
	total := e.Total()
	for len(msg.Embeds) < maxEmbeds {
		select {
		case ev := <-h.q:
			e := BuildEmbed(&ev, o.cfg.Footer)
			if total+e.Total() > maxEmbedTotal {
				return msg, &ev
			}
			msg.Embeds = append(msg.Embeds, e)
			total += e.Total()
		default:
			return msg, nil
		}
	}
	return msg, nil
}

// flush delivers pending (if any) and what is still queued once Run's
// context has ended, within FlushTimeout; what cannot be delivered is
// counted as failed and logged.
func (o *Output) flush(ctx context.Context, h *hook, pending *Message, carry *engine.Event) {
	h.stopped.Store(true)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.FlushTimeout)
	defer cancel()
	for {
		msg := pending
		pending = nil
		if msg == nil {
			var first engine.Event
			if carry != nil {
				first, carry = *carry, nil
			} else {
				select {
				case first = <-h.q:
				default:
					return
				}
			}
			msg, carry = o.batch(h, first)
		}
		if o.deliver(fctx, h, msg) {
			o.fail(h, msg, "shutdown", fctx.Err())
			break
		}
	}
	left := 0
	if carry != nil {
		left++
	}
	for done := false; !done; {
		select {
		case <-h.q:
			left++
		default:
			done = true
		}
	}
	if left > 0 {
		h.failed.Add(uint64(left))
		o.log.Error("discord: shutdown before delivering queued events", "webhook", h.name, "undelivered", left)
	}
}

// deliver posts msg, honouring rate limits and retrying 429s and 5xx; a
// final failure is counted and logged. It reports true, having counted
// nothing, when ctx ended first: the caller decides what happens to msg.
func (o *Output) deliver(ctx context.Context, h *hook, msg *Message) (interrupted bool) {
	body, err := json.Marshal(msg)
	if err != nil {
		o.fail(h, msg, "encode", err)
		return false
	}
	n := uint64(len(msg.Embeds))
	tries, limited := 0, 0
	for {
		if h.remaining == 0 {
			if wait := time.Until(h.resetAt); wait > 0 && !o.sleep(ctx, min(wait, o.cfg.MaxWait)) {
				return true
			}
			h.remaining = -1
		}
		status, header, respBody, err := o.post(ctx, h.wh.URL, body)
		if err == nil {
			h.noteBucket(header)
		}
		switch {
		case err == nil && status >= 200 && status < 300:
			h.messages.Add(1)
			h.embeds.Add(n)
			return false
		case err == nil && status == http.StatusTooManyRequests:
			h.rateLimited.Add(1)
			limited++
			wait := retryAfter(respBody, header)
			if limited > o.cfg.MaxRateLimitRetries {
				o.fail(h, msg, "rate limited too often", fmt.Errorf("%d answers 429, last retry_after %s", limited, wait))
				return false
			}
			o.log.Warn("discord rate limited", "webhook", h.name, "retry_after", wait)
			if !o.sleep(ctx, min(wait, o.cfg.MaxWait)) {
				return true
			}
		case err != nil || status >= 500:
			if ctx.Err() != nil {
				return true
			}
			tries++
			backoff := 30 * time.Second
			if tries <= 16 {
				backoff = min(o.cfg.RetryBase<<(tries-1), backoff)
			}
			if err == nil {
				if ra := headerSeconds(header.Get("Retry-After")); ra > 0 {
					backoff = min(ra, o.cfg.MaxWait)
				}
				err = fmt.Errorf("HTTP %d: %s", status, snippet(respBody))
			}
			if tries > o.cfg.MaxRetries {
				o.fail(h, msg, "retries exhausted", err)
				return false
			}
			h.retries.Add(1)
			o.log.Warn("discord send failed, retrying", "webhook", h.name, "err", err, "try", tries, "backoff", backoff)
			if !o.sleep(ctx, backoff) {
				return true
			}
		default:
			// Any other 4xx will not succeed on a resend: the payload or the
			// webhook is wrong. Log Discord's explanation.
			o.fail(h, msg, "rejected", fmt.Errorf("HTTP %d: %s", status, snippet(respBody)))
			return false
		}
	}
}

func (o *Output) fail(h *hook, msg *Message, reason string, err error) {
	h.failed.Add(uint64(len(msg.Embeds)))
	titles := make([]string, len(msg.Embeds))
	for i, e := range msg.Embeds {
		titles[i] = Truncate(e.Title, 60)
	}
	o.log.Error("discord message dropped", "webhook", h.name, "reason", reason, "err", err, "embeds", len(msg.Embeds), "titles", titles)
}

// post makes one request; the body read is bounded.
func (o *Output) post(ctx context.Context, u string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stellarfeed-discord/1")
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, nil, nil, redactErr(err, u)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, b, nil
}

// redactErr removes the webhook URL (it holds the token) from errors such
// as *url.Error.
func redactErr(err error, u string) error {
	msg := err.Error()
	if strings.Contains(msg, u) {
		return fmt.Errorf("%s", strings.ReplaceAll(msg, u, "<webhook>"))
	}
	return err
}

// noteBucket records X-RateLimit-Remaining / X-RateLimit-Reset-After so
// the next send waits for the bucket instead of earning a 429.
func (h *hook) noteBucket(hd http.Header) {
	rem := hd.Get("X-RateLimit-Remaining")
	if rem == "" {
		return
	}
	n, err := strconv.Atoi(rem)
	if err != nil {
		return
	}
	h.remaining = n
	if n == 0 {
		h.resetAt = time.Now().Add(headerSeconds(hd.Get("X-RateLimit-Reset-After")))
	}
}

// retryAfter reads a 429's wait: retry_after (seconds, fractional) from
// the JSON body, else the Retry-After header, else one second.
func retryAfter(body []byte, hd http.Header) time.Duration {
	var b struct {
		RetryAfter *float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &b) == nil && b.RetryAfter != nil {
		if d := seconds(*b.RetryAfter); d > 0 {
			return d
		}
	}
	if d := headerSeconds(hd.Get("Retry-After")); d > 0 {
		return d
	}
	if d := headerSeconds(hd.Get("X-RateLimit-Reset-After")); d > 0 {
		return d
	}
	return time.Second
}

func headerSeconds(s string) time.Duration {
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return seconds(f)
}

func seconds(f float64) time.Duration {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f > 3600 {
		f = 3600
	}
	return time.Duration(f * float64(time.Second))
}

func snippet(b []byte) string {
	return Truncate(strings.TrimSpace(string(b)), 512)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
