// stellarfeed console: live updates from /admin/events and tiny SVG charts.
// No library, no build step; the pages work without it, only less alive.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  var page = document.body.dataset.page;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { var e = $(id); if (e) e.textContent = v; }
  function count(v) { return Math.round(v).toLocaleString("en-US"); }
  function ms(v) { return v < 0 ? "–" : v.toFixed(2) + " ms"; }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function rows(tbody, list, cols, empty) {
    if (!tbody) return;
    tbody.replaceChildren();
    if (!list.length) {
      tbody.append(el("tr", { "class": "empty" }, [el("td", { colspan: cols }, [empty])]));
      return;
    }
    list.forEach(function (cells) { tbody.append(cells); });
  }
  function when(t) { return new Date(t).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }

  // Charts: the last 60 samples of a series as a polyline scaled to its max.
  var series = {};
  function chart(id, v) {
    var svg = $(id);
    if (!svg) return;
    var s = series[id] = (series[id] || []).concat([Math.max(0, v)]).slice(-60);
    var max = Math.max.apply(null, s) || 1, n = Math.max(s.length - 1, 1);
    var pts = s.map(function (y, i) { return (120 * i / n).toFixed(1) + "," + (29 - 27 * y / max).toFixed(1); }).join(" ");
    var line = svg.querySelector("polyline");
    if (!line) {
      line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      svg.append(line);
    }
    line.setAttribute("points", pts);
  }

  function kickForm(id) {
    return el("form", { method: "post", action: "/admin/conns/" + id + "/kick", "class": "inline" },
      [el("input", { type: "hidden", name: "csrf", value: csrf }), el("button", { "class": "kick" }, ["Kick"])]);
  }

  function overview(s) {
    text("conns-total", s.connsTotal);
    text("conns-stellar", s.conns.stellar || 0);
    text("conns-ws", s.conns.ws || 0);
    text("conns-sse", s.conns.sse || 0);
    text("pings-in-rate", count(s.pingsInPerMin));
    text("pings-out-rate", count(s.pingsOutPerMin));
    text("pings-in", count(s.pingsIn));
    text("pings-out", count(s.pingsOut));
    text("deliveries-rate", s.deliveriesPerSec.toFixed(1));
    text("deliveries", count(s.deliveries));
    text("fanout-p50", ms(s.fanoutP50Ms));
    text("fanout-p99", ms(s.fanoutP99Ms));
    text("slow", count(s.slowCloses));
    chart("chart-conns", s.connsTotal);
    chart("chart-in", s.pingsInPerMin);
    chart("chart-out", s.pingsOutPerMin);
    chart("chart-deliveries", s.deliveriesPerSec);
    chart("chart-fanout", Math.max(0, s.fanoutP99Ms));
    rows($("by-key"), (s.byKey || []).map(function (k) {
      return el("tr", {}, [el("td", {}, [el("code", {}, [k.keyId])]), el("td", {}, [k.label || ""]), el("td", { "class": "num" }, [String(k.n)])]);
    }), 3, "No client connected.");
    var byCode = function (m) { return Object.keys(m).sort().map(function (k) { return el("tr", {}, [el("td", {}, [k]), el("td", { "class": "num" }, [count(m[k])])]); }); };
    rows($("ingest"), byCode(s.ingest || {}), 2, "No ingest request yet.");
    rows($("checks"), byCode(s.checks || {}), 2, "No check yet.");
  }

  function keys(s) {
    var live = {};
    (s.connections || []).forEach(function (c) { live[c.keyId] = (live[c.keyId] || 0) + 1; });
    document.querySelectorAll("#keys tr[data-key]").forEach(function (tr) {
      var td = tr.querySelector(".live-conns");
      if (td) td.textContent = live[tr.dataset.key] || 0;
    });
    rows($("conns"), (s.connections || []).map(function (c) {
      return el("tr", { "data-key": c.keyId }, [el("td", {}, [String(c.id)]), el("td", {}, [c.endpoint]), el("td", {}, [el("code", {}, [c.keyId])]),
        el("td", {}, [c.label || ""]), el("td", {}, [c.remote]), el("td", {}, [when(c.since)]), el("td", { "class": "num" }, [String(c.delivered)]),
        el("td", {}, [kickForm(c.id)])]);
    }), 8, "No client connected.");
  }

  function ago(t) {
    if (!t || t.startsWith("0001-")) return "never";
    return Math.max(0, Math.round((Date.now() - new Date(t)) / 1000)) + "s ago";
  }

  function monitors(s) {
    if (s.targets && $("targets")) {
      rows($("targets").tBodies[0], s.targets.map(function (t) {
        return el("tr", { "class": "outcome-" + (t.outcome || "") }, [el("td", {}, [el("code", {}, [t.id])]), el("td", {}, [t.site]), el("td", {}, [t.region || ""]),
          el("td", {}, [t.what]), el("td", {}, [t.group || ""]), el("td", {}, [ago(t.lastCheck)]), el("td", { "class": "outcome" }, [t.outcome || "–"]),
          el("td", { "class": "evidence" }, [t.evidence || ""]), el("td", { "class": "num" }, [String(t.streak)]),
          el("td", { "class": "num checks" }, [String(t.checks)]), el("td", {}, [t.delay]), el("td", {}, [t.proxy || ""]),
          el("td", {}, [ago(t.lastRestock)]), el("td", { "class": "num" }, [String(t.skipped)])]);
      }), 14, "No target.");
    }
    rows($("pings"), (s.pings || []).map(function (p) {
      return el("tr", {}, [el("td", {}, [when(p.at)]), el("td", {}, [p.site]), el("td", {}, [p.region || ""]), el("td", {}, [el("code", { "class": "payload" }, [p.payload])])]);
    }), 4, "No ping yet.");
  }

  var update = { overview: overview, keys: keys, monitors: monitors }[page];
  if (update && window.EventSource) {
    var es = new EventSource("/admin/events" + (page === "monitors" ? "?targets=1" : ""));
    es.addEventListener("sample", function (e) {
      text("live", "●");
      $("live") && $("live").classList.add("on");
      update(JSON.parse(e.data));
    });
    es.onerror = function () { $("live") && $("live").classList.remove("on"); };
  }

  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  document.querySelectorAll("input.copy").forEach(function (inp) {
    inp.addEventListener("focus", function () {
      inp.select();
      if (navigator.clipboard) navigator.clipboard.writeText(inp.value).catch(function () {});
    });
  });
})();
