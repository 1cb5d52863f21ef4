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
  const projects = new Map(); // name -> {data, el}

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
        if (p) p.el.querySelector(".result").textContent = j.error ? j.error : action + ": ok";
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

  function render(d) {
    let p = projects.get(d.name);
    const card = el("section", "card" + (d.state === "gone" || d.state === "stopped" || d.state === "unreachable" ? " gone-card" : ""));
    card.dataset.project = d.name;
    if (d.host) card.dataset.host = d.host;
    const h = el("h2");
    h.appendChild(el("span", "name", d.name));
    h.appendChild(el("span", "state st-" + d.state, d.state));
    card.appendChild(h);
    const meta = el("p", "meta round");
    const bits = [];
    if (d.round) bits.push("round " + d.round + (d.phase ? " · " + d.phase : ""));
    meta.textContent = bits.join(" ");
    const elapsed = el("span", "elapsed");
    meta.appendChild(elapsed);
    card.appendChild(meta);
    const throttle = el("p", "meta throttle");
    card.appendChild(throttle);
    const strip = el("ol", "strip");
    for (const [n, outcome] of d.strip) {
      const li = el("li", "o-" + outcome);
      li.title = n + " " + outcome;
      strip.appendChild(li);
    }
    card.appendChild(strip);
    const u = d.usage;
    card.appendChild(el("p", "meta usage",
      (u ? "last round " + u.input_tokens + " in / " + u.output_tokens + " out" +
        (u.cost_usd !== null ? ", " + usd(u.cost_usd) : "") + " · " : "") + "today " + usd(d.cost_today)));
    if (d.hours.length) card.appendChild(chart(d.hours));
    const alerts = el("ul", "alerts");
    for (const a of d.alerts) alerts.appendChild(el("li", "sev-" + a.severity, a.detector + ": " + a.message));
    card.appendChild(alerts);
    const evs = el("ul", "events");
    for (const line of d.events.slice().reverse()) evs.appendChild(el("li", null, line.replace("\t", " ")));
    card.appendChild(evs);
    if (d.narrative_html) {
      const n = el("div", "narrative");
      n.innerHTML = d.narrative_html; // cmark safe mode, see above
      card.appendChild(n);
    }
    const actions = el("div", "actions");
    const running = d.state !== "stopped" && d.state !== "gone";
    const labels = { "stop": "Stop after this round", "stop-now": "Stop now",
      "cancel": "Cancel round", "start": "Start" };
    for (const a of running ? ["stop", "stop-now", "cancel"] : ["start"]) {
      const b = el("button", "act-" + a, labels[a]);
      b.addEventListener("click", () => act(d.name, a));
      actions.appendChild(b);
    }
    const pre = el("pre", "tail");
    pre.hidden = true;
    if (running) {
      const t = el("button", "act-tail", "Transcript");
      t.addEventListener("click", () => { pre.hidden = !pre.hidden; if (!pre.hidden) tail(d.name, pre); });
      actions.appendChild(t);
    }
    card.appendChild(actions);
    card.appendChild(el("p", "meta result"));
    card.appendChild(pre);
    if (p && p.el.parentNode) {
      // keep an open transcript open
      const old = p.el.querySelector("pre.tail");
      if (old && !old.hidden && running) { pre.hidden = false; pre.textContent = old.textContent; }
      main.replaceChild(card, p.el);
    } else {
      // grouped by host: this host's projects first, then each remote host's
      const key = q => (q.host ? "1" + q.host + "\u0000" : "0") + q.name;
      const after = [...projects.values()].filter(q => key(q.data) > key(d))
        .sort((a, b) => key(a.data) < key(b.data) ? -1 : 1)[0];
      main.insertBefore(card, after ? after.el : null);
      const empty = main.querySelector(".empty");
      if (empty) empty.remove();
    }
    projects.set(d.name, { data: d, el: card });
    tick();
  }

  function tick() {
    const now = Date.now() / 1000;
    for (const { data, el: card } of projects.values()) {
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
      for (const [name, p] of projects) if (!names.has(name)) { p.el.remove(); projects.delete(name); }
      main.querySelectorAll("section.card").forEach(c => { if (!projects.has(c.dataset.project)) c.remove(); });
      for (const d of list) render(d);
    });
    es.addEventListener("project", ev => render(JSON.parse(ev.data)));
    es.addEventListener("event", ev => {
      const d = JSON.parse(ev.data);
      const p = projects.get(d.project);
      if (!p) return;
      const ul = p.el.querySelector(".events");
      ul.insertBefore(el("li", null, (d.ts || "") + " " + d.kind), ul.firstChild);
      while (ul.children.length > 12) ul.lastChild.remove();
    });
  }
  connect();
})();
