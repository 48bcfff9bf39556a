// The Sluice monitor: a single page over the REST API. Pages are hash routes
// (#/, #/queues, #/queue/VMTA/DOMAIN, #/vmtas, #/trace/ID); the current page
// is fetched again every POLL_MS. Everything from the server is put in the
// page with textContent (replies quote remote servers: never as HTML).
"use strict";

(function () {
  const POLL_MS = 2000;
  const KEY = "sluice.monitor.key";
  const $ = id => document.getElementById(id);

  const state = {key: sessionStorage.getItem(KEY) || "", role: "", timer: 0, gen: 0};

  // ---- API ----------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, opts) {
    const headers = {"Accept": "application/json"};
    if (state.key) headers["Authorization"] = "Bearer " + state.key;
    const init = {headers, method: "GET", cache: "no-store"};
    if (opts && opts.body !== undefined) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    const r = await fetch(path, init);
    const text = await r.text();
    let v = {};
    try { v = text ? JSON.parse(text) : {}; } catch (e) { v = {message: text}; }
    if (!r.ok) throw new APIError(r.status, v.message || r.statusText);
    return v;
  }

  // ---- formatting -----------------------------------------------------------

  const n = v => Number(v || 0); // int64 fields arrive as strings (protojson)
  const fmt = v => Math.round(n(v)).toLocaleString("en-US");
  const compact = v => v >= 1e6 ? fmt(v / 1e6) + "M" : v >= 1e3 ? fmt(v / 1e3) + "k" : fmt(v);
  const fmt1 = v => (Math.round(n(v) * 10) / 10).toLocaleString("en-US");
  function bytes(v) {
    v = n(v);
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : v) + " " + u[i];
  }
  function age(sec) {
    sec = Math.round(n(sec));
    if (sec < 60) return sec + " s";
    if (sec < 3600) return Math.floor(sec / 60) + " min " + (sec % 60) + " s";
    if (sec < 86400) return Math.floor(sec / 3600) + " h " + Math.floor(sec % 3600 / 60) + " min";
    return Math.floor(sec / 86400) + " d " + Math.floor(sec % 86400 / 3600) + " h";
  }
  function when(t) {
    if (!t || t.startsWith("0001-")) return "—";
    const d = new Date(t), s = (d - Date.now()) / 1000;
    const rel = Math.abs(s) < 1 ? "now" : s > 0 ? "in " + age(s) : age(-s) + " ago";
    return d.toLocaleTimeString("en-GB") + " (" + rel + ")";
  }

  function clockOf(t) { return !t || t.startsWith("0001-") ? "—" : new Date(t).toLocaleTimeString("en-GB"); }
  function relOf(t) {
    if (!t || t.startsWith("0001-")) return "";
    const s = (Date.parse(t) - Date.now()) / 1000;
    return Math.abs(s) < 1 ? "now" : s > 0 ? "in " + age(s) : age(-s) + " ago";
  }

  // h builds an element: h("td", {class: "num"}, "12", child, ...).
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids.flat(Infinity)) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  function table(cols, rows, empty) {
    const head = h("tr", {}, cols.map(c => h("th", {class: c.num ? "num" : ""}, c.title)));
    const body = rows.length ? rows.map(r => h("tr", {}, cols.map(c => {
      const v = c.get(r);
      return h("td", {class: c.num ? "num" : c.cls || ""}, v);
    }))) : [h("tr", {}, h("td", {colspan: cols.length, class: "empty"}, empty || "nothing"))];
    return h("table", {}, h("thead", {}, head), h("tbody", {}, body));
  }

  function card(title, ...body) { return h("div", {class: "card"}, h("h2", {}, title), ...body); }

  function stat(id, label, value, sub, cls) {
    return h("div", {class: "stat " + (cls || "")}, h("div", {class: "label"}, label),
      h("div", {class: "value", id, "data-value": value.raw}, value.text), h("div", {class: "sub"}, sub || ""));
  }
  const val = (raw, text) => ({raw: String(raw), text: text === undefined ? fmt(raw) : text});

  const queueLink = (vmta, domain) =>
    h("a", {href: "#/queue/" + encodeURIComponent(vmta) + "/" + encodeURIComponent(domain)}, domain);

  function badge(text, cls) { return h("span", {class: "badge " + (cls || "")}, text); }

  // ---- pages ----------------------------------------------------------------

  async function overview() {
    const [o, actions] = await Promise.all([api("/v1/monitor/overview?top=10"), api("/v1/actions")]);
    const hist = o.history || [];
    const inRate = recentRate(hist, "in"), out = o.outcomes;
    const stats = h("div", {class: "stats"},
      stat("ov-in", "In (recipients/min)", val(inRate), fmt(o.received_recipients) + " since start"),
      stat("ov-out", "Delivered/min", val(out.delivered_per_min), fmt(out.delivered) + " since start", "good"),
      stat("ov-deferred", "Deferred/min", val(out.deferred_per_min), fmt(out.deferred) + " since start", "warn"),
      stat("ov-bounced", "Bounced/min", val(out.bounced_per_min), fmt(out.bounced) + " since start", "bad"),
      stat("ov-queued", "Queued recipients", val(o.queued_recipients), fmt(o.queued_messages) + " messages"),
      stat("ov-oldest", "Oldest in queue", val(o.oldest_age_seconds, o.queued_messages ? age(o.oldest_age_seconds) : "—"),
        bytes(o.body_bytes) + " of bodies"));
    const hidden = h("dl", {class: "totals", id: "ov-totals"},
      [["delivered", out.delivered], ["deferred", out.deferred], ["bounced", out.bounced],
        ["queued_recipients", o.queued_recipients], ["queued_messages", o.queued_messages],
        ["received_recipients", o.received_recipients]].map(([k, v]) =>
        [h("dt", {}, k), h("dd", {id: "total-" + k}, fmt(v))]));
    const rates = [
      {name: "in (received/min)", color: "#4e79a7", points: ratePoints(hist, "in")},
      {name: "delivered/min", color: "#59a14f", points: ratePoints(hist, "delivered")},
      {name: "deferred/min", color: "#f28e2b", points: ratePoints(hist, "deferred")},
      {name: "bounced/min", color: "#e15759", points: ratePoints(hist, "bounced")},
    ];
    const depth = [{name: "queued recipients", color: "#76b7b2", points: levelPoints(hist, "queued"), fill: true}];
    const clock = x => new Date(x).toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    const enough = hist.length > 1;
    const wait = () => h("p", {class: "empty"}, "The charts fill in as the monitor samples the counters (every 5 s).");
    const dests = table([
      {title: "Domain", get: d => d.key},
      {title: "Queued", num: true, get: d => fmt(d.queued)},
      {title: "Delivered/min", num: true, get: d => fmt(d.delivered_per_min)},
      {title: "Deferred/min", num: true, get: d => fmt(d.deferred_per_min)},
      {title: "Bounced/min", num: true, get: d => fmt(d.bounced_per_min)},
      {title: "Delivered", num: true, get: d => fmt(d.delivered)},
      {title: "Deferred", num: true, get: d => fmt(d.deferred)},
      {title: "Bounced", num: true, get: d => fmt(d.bounced)},
    ], o.destinations || [], "no deliveries yet");
    dests.id = "ov-destinations";
    const reasons = table([
      {title: "Outcome", get: r => badge(r.outcome, r.outcome)},
      {title: "Recipients", num: true, get: r => fmt(r.count)},
      {title: "Reply", cls: "reply", get: r => r.reason},
      {title: "Last seen", get: r => h("span", {}, when(r.last), " · ", queueLink(r.vmta, r.domain))},
    ], o.reasons || [], "no deferrals or bounces");
    reasons.id = "ov-reasons";
    return [
      h("div", {class: "page-head"}, h("h1", {}, "Overview")),
      stats,
      h("div", {class: "cols wide-left"},
        card("Rates in and out (per minute)", enough ? SluiceChart.lineChart({series: rates, width: 820, height: 230,
          title: "rates", xLabel: clock, yLabel: fmtAxis}) : wait(), SluiceChart.legend(rates)),
        card("Queue depth", enough ? SluiceChart.lineChart({series: depth, width: 420, height: 230, title: "queue depth",
          xLabel: clock, yLabel: fmtAxis}) : wait(), SluiceChart.legend(depth))),
      card("Top destinations", dests),
      h("div", {class: "cols"},
        card("Top deferral and bounce reasons", reasons),
        card("Backoffs and suspensions in force", actionsTable(actions.actions || []))),
      hidden,
    ];
  }

  // fmtAxis labels an axis tick: whole numbers with separators, else one decimal.
  const fmtAxis = v => Number.isInteger(v) ? fmt(v) : fmt1(v);

  // ratePoints turns cumulative counters into per-minute rates between
  // samples, drawn as steps (one level per interval); a gap of more than
  // 15 s (nobody was looking) breaks the line. The last, fresher-than-5-s
  // sample is left out: a 1-s interval makes a spike, not a rate.
  function ratePoints(hist, field) {
    const out = [];
    let prev = hist[0];
    for (let i = 1; i < hist.length; i++) {
      const t0 = Date.parse(prev.t), t1 = Date.parse(hist[i].t), dt = (t1 - t0) / 60000;
      if (dt < 4 / 60) continue;
      const r = Math.max(0, (n(hist[i][field]) - n(prev[field])) / dt);
      if (dt > 0.25) out.push([t0, null]);
      out.push([t0, r], [t1, r]);
      prev = hist[i];
    }
    return out;
  }
  function levelPoints(hist, field) {
    return hist.map(s => [Date.parse(s.t), n(s[field])]);
  }
  // recentRate is field's rate per minute over the last minute of samples.
  function recentRate(hist, field) {
    if (hist.length < 2) return 0;
    const b = hist[hist.length - 1], tb = Date.parse(b.t);
    let a = hist[hist.length - 2];
    for (let i = hist.length - 2; i >= 0 && tb - Date.parse(hist[i].t) <= 60000; i--) a = hist[i];
    const dt = (tb - Date.parse(a.t)) / 60000;
    return dt > 0 ? Math.max(0, (n(b[field]) - n(a[field])) / dt) : 0;
  }

  function actionsTable(list) {
    const t = table([
      {title: "VMTA", get: a => a.vmta},
      {title: "Site", cls: "mono", get: a => a.site},
      {title: "Group", get: a => a.group || ""},
      {title: "Kind", get: a => badge(a.kind, "warn")},
      {title: "Cause", cls: "reply", get: a => a.cause},
      {title: "Expires", get: a => when(a.expiry)},
    ], list, "none: every receiver is taking mail at the configured rate");
    t.classList.add("actions");
    return t;
  }

  async function queues(filter) {
    const r = await api("/v1/queues");
    const f = (filter || "").toLowerCase();
    const list = (r.queues || []).filter(q => !f || q.domain.includes(f) || q.vmta.includes(f));
    const total = list.reduce((a, q) => a + n(q.recipients), 0);
    const t = table([
      {title: "VMTA", get: q => q.vmta},
      {title: "Domain", get: q => queueLink(q.vmta, q.domain)},
      {title: "Recipients", num: true, get: q => fmt(q.recipients)},
      {title: "Next due", get: q => when(q.earliest_due)},
      {title: "State", get: q => q.paused ? badge("paused", "warn") : badge("active", "good")},
    ], list, "no queue holds mail");
    t.id = "queues-table";
    const input = h("input", {type: "search", id: "queue-filter", placeholder: "filter by domain or vmta", value: filter || "",
      onchange: e => { location.hash = "#/queues/" + encodeURIComponent(e.target.value); }});
    return [h("div", {class: "page-head"}, h("h1", {}, "Queues"), input),
      card(list.length + " queues · " + fmt(total) + " recipients", t)];
  }

  async function queuePage(vmta, domain) {
    const q = await api("/v1/monitor/queue?vmta=" + encodeURIComponent(vmta) + "&domain=" + encodeURIComponent(domain));
    const o = q.outcomes || {};
    const stats = h("div", {class: "stats"},
      stat("q-recipients", "Queued recipients", val(q.recipients)),
      stat("q-due", "Next due", val(q.earliest_due || "", clockOf(q.earliest_due)), relOf(q.earliest_due)),
      stat("q-delivered", "Delivered", val(o.delivered), fmt(o.delivered_per_min) + "/min · " + domain + ", every vmta", "good"),
      stat("q-deferred", "Deferred", val(o.deferred), fmt(o.deferred_per_min) + "/min · " + domain + ", every vmta", "warn"),
      stat("q-bounced", "Bounced", val(o.bounced), fmt(o.bounced_per_min) + "/min · " + domain + ", every vmta", "bad"));
    const badges = [q.paused ? badge("paused by an operator", "warn") : badge("active", "good")];
    if (q.held_until) badges.push(badge("held until " + when(q.held_until), "warn"));
    if (q.site) badges.push(h("span", {class: "mono site"}, "site " + q.site));
    const buttons = state.role === "admin" ? h("div", {class: "buttons", id: "admin-buttons"},
      ["pause", "resume", "flush"].map(op => h("button", {type: "button", id: "btn-" + op, onclick: () => control(op, vmta, domain)},
        op[0].toUpperCase() + op.slice(1))),
      h("span", {id: "control-result", class: "result"}, state.lastControl || "")) : null;
    const replies = table([
      {title: "Time", get: r => when(r.time)},
      {title: "Outcome", get: r => badge(r.outcome, r.outcome)},
      {title: "Recipients", num: true, get: r => fmt(r.recipients)},
      {title: "Host", cls: "mono", get: r => r.host || "(local)"},
      {title: "Reply", cls: "reply", get: r => r.reply},
    ], q.last_replies || [], "no attempt yet");
    replies.id = "q-replies";
    return [h("div", {class: "page-head"}, h("h1", {}, domain, h("small", {}, " via " + vmta)), h("div", {}, badges)),
      buttons, stats, card("Last replies", replies),
      card("Backoffs and suspensions for this queue's site", actionsTable(q.actions || []))];
  }

  async function control(op, vmta, domain) {
    try {
      const r = await api("/v1/queues:" + op, {body: {vmta, domain}});
      const count = {pause: r.paused_queues, resume: r.resumed_queues, flush: r.flushed_recipients}[op];
      state.lastControl = op + ": " + fmt(count) + (op === "flush" ? " recipients due now" : " queues");
    } catch (e) {
      state.lastControl = op + " refused: " + e.message;
    }
    refresh();
  }

  async function vmtas() {
    const [v, p, w, c, sites] = await Promise.all([api("/v1/vmtas"), api("/v1/pools"), api("/v1/warmup"),
      api("/v1/monitor/warmup?days=30"), api("/v1/monitor/sites")]);
    const vt = table([
      {title: "VMTA", get: x => x.name},
      {title: "Source IP", cls: "mono", get: x => x.source_ip || "(kernel's choice)"},
      {title: "HELO", cls: "mono", get: x => x.helo || ""},
      {title: "Queued", num: true, get: x => fmt(x.queued_recipients)},
      {title: "State", get: x => x.removed ? badge("removed", "bad") : x.disabled ? badge("disabled", "warn") : badge("enabled", "good")},
    ], v.vmtas || [], "no vmta");
    vt.id = "vmtas-table";
    const pt = table([
      {title: "Pool", get: x => x.name},
      {title: "Members (weight)", get: x => (x.members || []).map(m => m.vmta + " (" + (m.weight || 1) + ")").join(", ")},
    ], p.pools || [], "no pool");
    const rate = r => n(r) > 0 ? fmt1(r) + "/s" : "unlimited";
    const st = table([
      {title: "VMTA", get: x => x.vmta},
      {title: "Site", cls: "mono", get: x => x.site},
      {title: "Group", get: x => x.group || ""},
      {title: "Connections", num: true, get: x => fmt(x.connections) + " of " + fmt(x.max_connections) +
        (n(x.max_connections) < n(x.configured_connections) ? " (configured " + fmt(x.configured_connections) + ")" : "")},
      {title: "Rate in force", num: true, get: x => rate(x.msg_rate) +
        (n(x.msg_rate) !== n(x.configured_msg_rate) ? " (configured " + rate(x.configured_msg_rate) + ")" : "")},
      {title: "Ready", num: true, get: x => fmt(x.ready)},
      {title: "Transactions", num: true, get: x => fmt(x.transactions)},
      {title: "Rate waits", num: true, get: x => fmt(x.rate_waits)},
      {title: "", get: x => x.backoff ? badge("backoff", "warn") : n(x.msg_rate) < n(x.configured_msg_rate) ? badge("slowed", "warn") : ""},
    ], sites.sites || [], "no connection pool yet: nothing was sent");
    st.id = "sites-table";
    const curves = {};
    for (const cv of c.curves || []) curves[cv.vmta] = cv;
    const warm = (w.vmtas || []).map(x => warmupCard(x, curves[x.vmta]));
    return [h("div", {class: "page-head"}, h("h1", {}, "VMTAs & pools")),
      h("div", {class: "cols"}, card("Virtual MTAs", vt), card("Pools", pt)),
      card("Connection pools (vmta × site): adaptive limits against the configured ones", st),
      h("h2", {class: "section"}, "Warm-up"),
      warm.length ? h("div", {class: "warm-grid"}, warm) : card("Warm-up", h("p", {class: "empty"}, "No vmta has a warm-up plan."))];
  }

  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7"];

  function warmupCard(x, curve) {
    const groups = x.groups || [];
    const series = [], dots = [];
    let day = 1;
    groups.forEach((g, i) => {
      const color = PALETTE[i % PALETTE.length];
      day = Math.max(day, g.day || 1);
      const caps = (curve && curve.groups[g.group]) || [];
      const pts = [];
      caps.forEach((cap, step) => { if (cap >= 0) pts.push([step + 1, cap]); });
      series.push({name: g.group + " cap", color, points: pts});
      dots.push({x: g.day || 1, y: n(g.sent), color, label: g.group + ": sent " + fmt(g.sent) + " today"});
    });
    const chart = SluiceChart.lineChart({series, dots, width: 560, height: 220, title: "warm-up " + x.vmta, log: true,
      xLabel: d => "day " + d, yLabel: compact, marker: {x: day, label: "today"}, xInteger: true});
    const rows = table([
      {title: "Group", get: g => g.group},
      {title: "Day", num: true, get: g => fmt(g.day)},
      {title: "Sent / allowed / cap", get: g => progress(g)},
      {title: "", get: g => g.paused ? badge("paused", "warn") : ""},
      {title: "Last decision", cls: "reply", get: g => g.last_decision ? g.last_decision.action + ": " + g.last_decision.reason : "—"},
    ], groups, "no group");
    rows.classList.add("warm-table");
    return h("div", {class: "card warm", "data-vmta": x.vmta},
      h("h2", {}, x.vmta, h("small", {}, " plan " + x.plan + (x.start ? " since " + x.start : ""))),
      chart, SluiceChart.legend(series.concat([{name: "sent today (dot)", color: "#9aa7b8"}])), rows);
  }

  function progress(g) {
    const cap = n(g.cap), sent = n(g.sent), allowed = n(g.allowed);
    if (cap < 0) return h("span", {class: "unlimited"}, fmt(sent) + " sent · unlimited");
    const pct = cap ? Math.min(100, 100 * sent / cap) : 0, apct = cap ? Math.min(100, 100 * allowed / cap) : 0;
    const bar = h("span", {class: "bar"}, h("span", {class: "allowed"}), h("span", {class: "sent"}));
    bar.firstChild.style.width = apct + "%";
    bar.lastChild.style.width = pct + "%";
    return h("span", {class: "progress"}, bar, h("span", {class: "nums"}, fmt(sent) + " / " + fmt(allowed) + " / " + fmt(cap)));
  }

  async function trace(id, rcpt) {
    const form = h("form", {class: "trace-form", id: "trace-form", onsubmit: e => {
      e.preventDefault();
      const f = e.target;
      location.hash = "#/trace/" + encodeURIComponent(f.id_.value.trim()) +
        (f.rcpt.value.trim() ? "/" + encodeURIComponent(f.rcpt.value.trim()) : "");
    }},
    h("input", {name: "id_", id: "trace-id", placeholder: "queue ID", value: id || "", required: true}),
    h("input", {name: "rcpt", id: "trace-rcpt", placeholder: "recipient (optional)", value: rcpt || ""}),
    h("button", {type: "submit"}, "Trace"));
    const out = [h("div", {class: "page-head"}, h("h1", {}, "Recipient trace")), card("Why is it not delivered yet?", form)];
    if (!id) return out;
    let r;
    try {
      r = await api("/v1/queues/messages/" + encodeURIComponent(id) + (rcpt ? "?recipient=" + encodeURIComponent(rcpt) : ""));
    } catch (e) {
      if (e.status === 404) return out.concat(card("Message " + id, h("p", {class: "empty", id: "trace-none"}, e.message)));
      throw e;
    }
    const t = table([
      {title: "Recipient", get: x => x.recipient},
      {title: "Queue", get: x => h("span", {}, x.vmta + " / ", queueLink(x.vmta, x.domain))},
      {title: "State", get: x => badge(x.state, x.state === "in-flight" ? "good" : "warn")},
      {title: "Attempts", num: true, get: x => fmt(x.attempts)},
      {title: "Last reply", cls: "reply", get: x => x.last_reply || "—"},
      {title: "Next attempt", get: x => when(x.next_attempt)},
      {title: "Expires", get: x => when(x.expires_at)},
      {title: "Held by", cls: "reply", get: x => x.held_by || "—"},
      {title: "Limits", cls: "reply", get: x => x.limits || ""},
    ], r.recipients || []);
    t.id = "trace-table";
    return out.concat(card("Message " + id, t));
  }

  // ---- routing, polling, sign-in --------------------------------------------

  function route() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    switch (parts[0]) {
      case "queues": return {page: "queues", load: () => queues(parts[1])};
      case "queue": return {page: "queues", load: () => queuePage(parts[1], parts[2])};
      case "vmtas": return {page: "vmtas", load: vmtas};
      case "trace": return {page: "trace", load: () => trace(parts[1], parts[2]), still: true};
      default: return {page: "overview", load: overview};
    }
  }

  async function refresh() {
    const gen = ++state.gen;
    const r = route();
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("on", a.dataset.page === r.page);
    let content;
    try {
      content = await r.load();
    } catch (e) {
      if (e.status === 401 || e.status === 403) return signOut(e.message);
      content = [h("div", {class: "card error", id: "page-error"}, "Could not load: " + e.message)];
    }
    if (gen !== state.gen) return; // a newer refresh owns the page
    const page = $("page");
    const focus = document.activeElement && document.activeElement.id;
    page.replaceChildren(...content.flat().filter(Boolean));
    if (focus && $(focus) && $(focus).tagName === "INPUT") $(focus).focus();
    page.hidden = false;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
    document.body.dataset.loaded = String(gen);
  }

  function schedule() {
    clearInterval(state.timer);
    state.timer = setInterval(() => {
      const r = route();
      const typing = document.activeElement && document.activeElement.tagName === "INPUT";
      if (!r.still && !typing) refresh();
    }, POLL_MS);
  }

  async function signIn() {
    try {
      const o = await api("/v1/monitor/overview?top=1");
      state.role = o.key.role;
      $("key-name").textContent = o.key.name;
      $("key-role").textContent = o.key.role;
      $("key-role").classList.toggle("admin", o.key.role === "admin");
    } catch (e) {
      return signOut(state.key ? e.message : "");
    }
    $("login").hidden = true;
    $("nav").hidden = $("who").hidden = false;
    await refresh();
    schedule();
  }

  function signOut(message) {
    clearInterval(state.timer);
    state.key = "";
    state.role = "";
    sessionStorage.removeItem(KEY);
    $("page").hidden = true;
    $("nav").hidden = $("who").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("login-key").focus();
  }

  $("login-form").addEventListener("submit", e => {
    e.preventDefault();
    state.key = $("login-key").value.trim();
    $("login-key").value = "";
    if (state.key) sessionStorage.setItem(KEY, state.key);
    signIn();
  });
  $("signout").addEventListener("click", () => signOut("Signed out."));
  window.addEventListener("hashchange", () => { state.lastControl = ""; refresh(); });
  signIn();
})();
