/* SPDX-License-Identifier: Apache-2.0 */
// agent-runner monitor page: the server renders a snapshot (works without
// JavaScript); this script keeps it live from the monitor's Server-Sent
// Events. Every string from the daemon or the agent goes through
// textContent, never innerHTML; the one exception is the narrative, which
// the monitor rendered with cmark in safe mode (no raw HTML, no script
// links), and the Content-Security-Policy forbids inline scripts anyway.
"use strict";
(function () {
  const qs = new URLSearchParams(location.search);
  const token = qs.get("token") || "";
  const csrf = document.querySelector('meta[name="ar-csrf"]').content;
  const main = document.getElementById("projects");
  const conn = document.getElementById("conn");
  const projects = new Map(); // name -> {data, card, parts, seen}

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function url(path, extra) {
    const p = new URLSearchParams({ token: token });
    for (const k in extra || {}) p.set(k, extra[k]);
    return path + "?" + p.toString();
  }
  function dur(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + r + "s";
  }
  function usd(x) { return "$" + Number(x || 0).toFixed(2); }

  function chart(hours) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 720 60");
    svg.setAttribute("preserveAspectRatio", "none");
    const now = Math.floor(Date.now() / 3600000);
    const maxR = Math.max(1, ...hours.map(h => h[1]));
    const maxC = Math.max(0.01, ...hours.map(h => h[2]));
    for (const [t, rounds, cost] of hours) {
      const x = 710 - (now - Math.floor(t / 3600)) * 10;
      if (x < 0) continue;
      const r = document.createElementNS(ns, "rect");
      const hgt = 28 * rounds / maxR;
      r.setAttribute("x", x); r.setAttribute("width", 4);
      r.setAttribute("y", 30 - hgt); r.setAttribute("height", hgt);
      const title = document.createElementNS(ns, "title");
      title.textContent = new Date(t * 1000).toLocaleString() + ": " + rounds + " rounds, " + usd(cost);
      r.appendChild(title);
      svg.appendChild(r);
      const c = document.createElementNS(ns, "rect");
      const ch = 28 * cost / maxC;
      c.setAttribute("class", "cost");
      c.setAttribute("x", x + 5); c.setAttribute("width", 4);
      c.setAttribute("y", 60 - ch); c.setAttribute("height", ch);
      svg.appendChild(c);
    }
    return svg;
  }

  function act(name, action) {
    const dlg = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = name + ": " + action.replace("-", " ") + "?";
    dlg.onclose = function () {
      if (dlg.returnValue !== "yes") return;
      fetch(url("api/action"), {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ project: name, action: action }).toString(),
      }).then(r => r.json()).then(j => {
        const p = projects.get(name);
        if (p) p.card.querySelector(".result").textContent = j.error ? j.error : action + ": ok";
      }).catch(e => console.warn(e));
    };
    dlg.returnValue = "";
    dlg.showModal();
  }

  function tail(name, box) {
    fetch(url("api/tail", { project: name })).then(r => r.json()).then(j => {
      box.textContent = j.log_tail ? j.log_tail.join("\n") : (j.error || "(no transcript)");
    }).catch(e => { box.textContent = String(e); });
  }

  // A card is built once and then updated part by part: a message that
  // changes one round's outcome touches one <li>, not the whole card (no
  // re-render per event; the tail, the scroll and the dialog stay put).
  const labels = { "stop": "Stop after this round", "stop-now": "Stop now",
    "cancel": "Cancel round", "start": "Start" };

  function build(name) {
    const card = el("section", "card");
    card.dataset.project = name;
    const h = el("h2");
    h.appendChild(el("span", "name", name));
    const parts = { state: el("span", "state") };
    h.appendChild(parts.state);
    card.appendChild(h);
    parts.meta = el("p", "meta round");
    parts.round = document.createTextNode("");
    parts.meta.appendChild(parts.round);
    parts.meta.appendChild(el("span", "elapsed"));
    card.appendChild(parts.meta);
    card.appendChild(el("p", "meta throttle"));
    for (const [key, tag, cls] of [["strip", "ol", "strip"], ["usage", "p", "meta usage"],
      ["chart", "div", "chart-box"], ["alerts", "ul", "alerts"], ["events", "ul", "events"],
      ["narrative", "div", "narrative"], ["actions", "div", "actions"]]) {
      parts[key] = el(tag, cls);
      card.appendChild(parts[key]);
    }
    card.appendChild(el("p", "meta result"));
    parts.tail = el("pre", "tail");
    parts.tail.hidden = true;
    card.appendChild(parts.tail);
    return { card, parts, seen: {} };
  }

  // Runs fill() only when the part's data differs from the last message's.
  function part(p, key, value, fill) {
    const text = JSON.stringify(value);
    if (p.seen[key] === text) return;
    p.seen[key] = text;
    fill(value);
  }

  function fillStrip(ol, strip) {
    // The strip slides: drop the rounds that left it, append the new ones.
    const have = [...ol.children].map(li => li.dataset.n);
    const want = strip.map(([n]) => String(n));
    let drop = have.indexOf(want[0]);
    if (drop < 0 || have.slice(drop).some((n, i) => n !== want[i])) { ol.textContent = ""; drop = 0; }
    for (let i = 0; i < drop; i++) ol.firstChild.remove();
    for (const [n, outcome] of strip.slice(ol.children.length)) {
      const li = el("li", "o-" + outcome);
      li.dataset.n = n;
      li.title = n + " " + outcome;
      ol.appendChild(li);
    }
  }

  function render(d) {
    let p = projects.get(d.name);
    const fresh = !p;
    if (fresh) p = build(d.name);
    p.data = d;
    const { card, parts } = p;
    const running = d.state !== "stopped" && d.state !== "gone";
    card.className = "card" + (running && d.state !== "unreachable" ? "" : " gone-card");
    if (d.host) card.dataset.host = d.host;
    parts.state.className = "state st-" + d.state;
    parts.state.textContent = d.state;
    parts.round.textContent = d.round ? "round " + d.round + (d.phase ? " · " + d.phase : "") : "";
    part(p, "strip", d.strip, v => fillStrip(parts.strip, v));
    const u = d.usage;
    parts.usage.textContent = (u ? "last round " + u.input_tokens + " in / " + u.output_tokens + " out" +
      (u.cost_usd !== null ? ", " + usd(u.cost_usd) : "") + " · " : "") + "today " + usd(d.cost_today);
    part(p, "hours", d.hours, v => parts.chart.replaceChildren(...(v.length ? [chart(v)] : [])));
    part(p, "alerts", d.alerts, v => parts.alerts.replaceChildren(
      ...v.map(a => el("li", "sev-" + a.severity, a.detector + ": " + a.message))));
    part(p, "events", d.events, v => parts.events.replaceChildren(
      ...v.slice().reverse().map(line => el("li", null, line.replace("\t", " ")))));
    part(p, "narrative", d.narrative_html, v => {
      parts.narrative.hidden = !v;
      parts.narrative.innerHTML = v || ""; // cmark safe mode, see above
    });
    part(p, "running", running, () => {
      const buttons = [];
      for (const a of running ? ["stop", "stop-now", "cancel"] : ["start"]) {
        const b = el("button", "act-" + a, labels[a]);
        b.addEventListener("click", () => act(d.name, a));
        buttons.push(b);
      }
      if (running) {
        const t = el("button", "act-tail", "Transcript");
        t.addEventListener("click", () => {
          parts.tail.hidden = !parts.tail.hidden;
          if (!parts.tail.hidden) tail(d.name, parts.tail);
        });
        buttons.push(t);
      } else {
        parts.tail.hidden = true;
      }
      parts.actions.replaceChildren(...buttons);
    });
    if (fresh) {
      // a server-rendered card (the no-JavaScript snapshot) is replaced once
      const old = main.querySelector(`section.card[data-project="${CSS.escape(d.name)}"]`);
      // grouped by host: this host's projects first, then each remote host's
      const key = q => (q.host ? "1" + q.host + "\u0000" : "0") + q.name;
      const after = [...projects.values()].filter(q => key(q.data) > key(d))
        .sort((x, y) => key(x.data) < key(y.data) ? -1 : 1)[0];
      main.insertBefore(card, after ? after.card : null);
      if (old) old.remove();
      const empty = main.querySelector(".empty");
      if (empty) empty.remove();
      projects.set(d.name, p);
    }
    tick();
  }

  function tick() {
    const now = Date.now() / 1000;
    for (const { data, card } of projects.values()) {
      const e = card.querySelector(".elapsed");
      if (e) e.textContent = data.round_started ? " · " + dur(now - Date.parse(data.round_started) / 1000) : "";
      const t = card.querySelector(".throttle");
      if (t) t.textContent = data.throttled_until > now
        ? "throttled (" + (data.throttle_class || "") + "): " + dur(data.throttled_until - now) + " left" : "";
    }
  }
  setInterval(tick, 1000);

  function connect() {
    const es = new EventSource(url("events"));
    es.onopen = () => { conn.textContent = "live"; conn.className = "conn on"; };
    es.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "conn off"; };
    es.addEventListener("snapshot", ev => {
      const list = JSON.parse(ev.data);
      const names = new Set(list.map(d => d.name));
      for (const [name, p] of projects) if (!names.has(name)) { p.card.remove(); projects.delete(name); }
      main.querySelectorAll("section.card").forEach(c => { if (!projects.has(c.dataset.project)) c.remove(); });
      for (const d of list) render(d);
    });
    es.addEventListener("project", ev => render(JSON.parse(ev.data)));
    // Only the members that changed since the last message of that project.
    // A slid array comes as [drop, same, tail]: old.slice(drop, drop + same) + tail.
    es.addEventListener("patch", ev => {
      const d = JSON.parse(ev.data);
      const p = projects.get(d.name);
      if (!p) return;
      const next = Object.assign({}, p.data, d);
      delete next.splice;
      for (const [k, [drop, same, tail]] of Object.entries(d.splice || {}))
        next[k] = p.data[k].slice(drop, drop + same).concat(tail);
      render(next);
    });
    es.addEventListener("event", ev => {
      const d = JSON.parse(ev.data);
      const p = projects.get(d.project);
      if (!p) return;
      const events = p.data.events.concat([(d.ts || "") + "\t" + d.kind]).slice(-12);
      render(Object.assign({}, p.data, { events: events }));
    });
  }
  connect();
})();
