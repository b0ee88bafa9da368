package api

import (
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Conn is one live client connection, as the admin API shows it.
type Conn struct {
	ID        uint64     `json:"id"`
	Endpoint  string     `json:"endpoint"` // "stellar", "ws" or "sse"
	KeyID     string     `json:"keyId"`
	Label     string     `json:"label,omitempty"`
	Remote    netip.Addr `json:"remote"`
	Since     time.Time  `json:"since"`
	Delivered uint64     `json:"delivered"`
}

// ConnAdmin lists and kicks live connections (the broadcaster, through an
// adapter in the node).
type ConnAdmin interface {
	Conns() []Conn
	Kick(id uint64) bool
}

// ConnList answers GET /api/admin/connections.
type ConnList struct {
	Total       int            `json:"total"`
	ByKey       map[string]int `json:"byKey"`
	Connections []Conn         `json:"connections"`
}

func (a *API) connInScope(c Conn, scope string) bool {
	if scope == "" {
		return true
	}
	k, err := a.deps.Keys.Get(c.KeyID)
	return err == nil && inScope(&k, scope)
}

func (a *API) connIDInScope(id uint64, scope string) bool {
	for _, c := range a.deps.Conns.Conns() {
		if c.ID == id {
			return a.connInScope(c, scope)
		}
	}
	return false
}

// connections serves /api/admin/connections[/{id}]; parts[0] is
// "connections".
func (a *API) connections(ctx *fasthttp.RequestCtx, parts []string, scope string) {
	if a.deps.Conns == nil {
		writeError(ctx, fasthttp.StatusNotFound, "connections are not served by this node")
		return
	}
	method := string(ctx.Method())
	switch {
	case len(parts) == 1 && method == fasthttp.MethodGet:
		key := string(ctx.QueryArgs().Peek("key"))
		list := ConnList{ByKey: map[string]int{}, Connections: []Conn{}}
		for _, c := range a.deps.Conns.Conns() {
			if !a.connInScope(c, scope) {
				continue
			}
			list.Total++
			list.ByKey[c.KeyID]++
			if key == "" || key == c.KeyID {
				list.Connections = append(list.Connections, c)
			}
		}
		sort.Slice(list.Connections, func(i, j int) bool { return list.Connections[i].ID < list.Connections[j].ID })
		writeJSON(ctx, fasthttp.StatusOK, list)
	case len(parts) == 1:
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	case len(parts) == 2 && method == fasthttp.MethodDelete:
		id, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "connection id must be a number")
			return
		}
		if scope != "" && !a.connIDInScope(id, scope) || !a.deps.Conns.Kick(id) {
			writeError(ctx, fasthttp.StatusNotFound, "no such connection")
			return
		}
		a.log.Info("connection kicked", "conn", id)
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"kicked": id})
	case len(parts) == 2:
		ctx.Response.Header.Set("Allow", "DELETE")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	}
}
