// agentsup web: one server-sent event stream per page; everything an agent prints is set as
// text (textContent), never parsed as markup.
"use strict";

const state = { status: null, session: null, picked: null, source: null, tries: 0, tab: "screen" };
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function duration(seconds) {
  if (seconds == null) return "";
  seconds = Math.max(0, Math.round(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function countdown(resetAt) {
  const left = (Date.parse(resetAt) - Date.now()) / 1000;
  return left > 0 ? `resets in ${duration(left)}` : "reset passed, resuming";
}

function resumer(agent) {
  const detail = agent.detail || "";
  if (detail.includes("by itself")) return "the program resumes by itself";
  return "agentsup resumes it";
}

function agentRow(agent, host) {
  const key = host ? `${host}:${agent.name}` : agent.name;
  const row = el("tr", { "data-agent": key, "data-state": agent.state });
  if (agent.state === "WAITING") row.classList.add("asks");
  if (agent.state === "FATAL" || agent.state === "FAILED") row.classList.add("fatal");
  if (state.picked === key) row.classList.add("picked");
  const detail = el("td", { class: "detail" });
  const asks = agent.state === "WAITING" && agent.question;
  if (asks) detail.append(el("div", { text: `asks: ${agent.question}` }));
  if (agent.detail && !(asks && agent.detail.startsWith("waiting for input"))) detail.append(el("div", { text: agent.detail }));
  if ((agent.last_lines || []).length) detail.append(el("pre", { class: "last-lines", text: agent.last_lines.join("\n") }));
  if (agent.state === "LIMITED" && agent.reset_at) {
    detail.append(el("div", { class: "countdown", "data-reset": agent.reset_at, text: countdown(agent.reset_at) }));
    if (!/resumes|by itself/.test(agent.detail || "")) detail.append(el("div", { class: "muted", text: resumer(agent) }));
  }
  row.append(el("td", { text: agent.name }), el("td", { class: "opt", text: agent.kind }),
             el("td", { class: "opt", text: agent.backend }),
             el("td", {}, el("span", { class: `state s-${agent.state}`, text: agent.state })), detail,
             el("td", { class: "opt", text: duration(agent.uptime_s) }),
             el("td", { class: "opt", text: String(agent.restarts ?? 0) }));
  if (!host) row.addEventListener("click", () => pick(agent.name));
  return row;
}

function agentTable(agents, host) {
  const head = el("tr", {}, ...["agent", "kind", "backend", "state", "detail", "uptime", "restarts"]
    .map((h, i) => el("th", { class: [1, 2, 5, 6].includes(i) ? "opt" : "", text: h })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...agents.map((a) => agentRow(a, host))));
}

function showHealth(report) {
  const dog = report.watchdog || {};
  const degraded = Object.keys(dog.degraded || {});
  const pill = $("watchdog");
  pill.textContent = dog.running ? (degraded.length ? `watchdog degraded: ${degraded.join(", ")}` :
                                     `watchdog ok${dog.last_tick ? "" : " (no tick yet)"}`) : "watchdog not running";
  pill.className = `pill ${dog.running && !degraded.length ? "good" : "bad"}`;
  const phase = report.phase;
  $("phase").textContent = phase ? `phase ${phase.index + 1}/${phase.count} ${phase.id}${phase.complete ? " (complete)" : ""}` : "";
  $("phase").hidden = !phase;
  $("config").textContent = report.config || "";
  const problem = report.config_error || report.tmux_error;
  $("banner").hidden = !problem;
  $("banner").textContent = problem || "";
}

function render() {
  const report = state.status;
  const box = $("fleet");
  if (!report) return;
  if (report.fleet) {
    box.replaceChildren(...report.fleet.hosts.map((h) => {
      const title = el("h2", { text: h.host }, el("span", { class: "muted", text: ` ${h.seconds ?? ""}s` }));
      if (h.error || !h.result) return el("div", { class: "host", "data-host": h.host }, title,
                                          el("div", { class: "host-error", text: h.error || "no answer" }));
      return el("div", { class: "host", "data-host": h.host }, title, agentTable(h.result.agents || [], h.host));
    }));
    $("config").textContent = "fleet";
    return;
  }
  showHealth(report);
  box.replaceChildren(agentTable(report.agents || [], null));
  if (state.picked) {
    const agent = (report.agents || []).find((a) => a.name === state.picked);
    $("detail-state").textContent = agent ? agent.state : "";
    $("detail-state").className = agent ? `state s-${agent.state}` : "state";
  }
}

function tick() {
  for (const node of document.querySelectorAll("[data-reset]")) node.textContent = countdown(node.dataset.reset);
}

function drawScreen(screen) {
  const pre = $("screen");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const lines = screen.lines.map((runs) => {
    const line = document.createDocumentFragment();
    for (const [text, style] of runs) {
      if (!style || !Object.keys(style).length) { line.append(document.createTextNode(text)); continue; }
      const span = el("span", { text });
      let fg = style.fg, bg = style.bg;
      if (style.r) [fg, bg] = [bg || "#111418", fg || "#d8dee6"];
      if (fg) span.style.color = fg;
      if (bg) span.style.backgroundColor = bg;
      if (style.b) span.style.fontWeight = "bold";
      if (style.i) span.style.fontStyle = "italic";
      if (style.u) span.style.textDecoration = "underline";
      if (style.d) span.style.opacity = "0.6";
      line.append(span);
    }
    line.append(document.createTextNode("\n"));
    return line;
  });
  pre.replaceChildren(...(screen.gone ? [document.createTextNode("(no pane: the agent is not running)")] : lines));
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function addEvents(entries) {
  const list = $("events");
  for (const e of entries) {
    const { ts, event, agent, ...rest } = e;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
    list.prepend(el("li", { "data-event": event, text: `${(ts || "").slice(11, 19)} ${event}${agent ? " " + agent : ""} ${extra}` }));
  }
  while (list.children.length > 200) list.lastChild.remove();
}

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { $("banner").hidden = false; $("banner").textContent = "not logged in: open the login URL that `agentsup web` printed"; }
  return response;
}

async function loadLog(name) {
  const response = await api(`/api/agents/${encodeURIComponent(name)}/log`);
  const data = await response.json();
  $("log").textContent = (data.lines || []).join("\n") || data.error || "(no log yet)";
}

function pick(name) {
  state.picked = name;
  $("detail").hidden = false;
  $("detail-name").textContent = name;
  $("screen").textContent = "…";
  render();
  if (state.tab === "log") loadLog(name);
  connect();
}

function connect() {
  if (state.source) state.source.close();
  const query = state.picked ? `?agent=${encodeURIComponent(state.picked)}` : "";
  const source = new EventSource(`/api/stream${query}`);
  state.source = source;
  source.addEventListener("open", () => { state.tries = 0; $("link").textContent = "live"; $("link").className = "pill good"; });
  source.addEventListener("status", (m) => { state.status = JSON.parse(m.data); render(); });
  source.addEventListener("events", (m) => addEvents(JSON.parse(m.data)));
  source.addEventListener("screen", (m) => { const s = JSON.parse(m.data); if (s.agent === state.picked) drawScreen(s); });
  source.addEventListener("error", () => {
    // Reconnect ourselves with a bounded backoff that never gives up (the browser's own retry
    // stops for good after an HTTP error such as a restart's 502).
    source.close();
    if (state.source !== source) return;
    const delay = Math.min(15000, 500 * 2 ** Math.min(state.tries, 5)) * (0.75 + Math.random() / 2);
    state.tries += 1;
    $("link").textContent = `reconnecting in ${Math.ceil(delay / 1000)}s`;
    $("link").className = "pill bad";
    setTimeout(() => { if (state.source === source) connect(); }, delay);
  });
}

async function act(action) {
  const name = state.picked;
  if (!name) return;
  const message = $("ping-text").value;
  $("action-result").textContent = `${action}…`;
  const response = await api(`/api/agents/${encodeURIComponent(name)}/${action}`, {
    method: "POST", headers: { "content-type": "application/json", "x-agentsup-csrf": state.session.csrf },
    body: JSON.stringify(action === "ping" ? { message } : {}),
  });
  const data = await response.json().catch(() => ({}));
  $("action-result").textContent = data.error ? `${action}: ${data.error}` : `${action}: done`;
  if (!data.error && action === "ping") $("ping-text").value = "";
}

async function start() {
  const response = await api("/api/session");
  if (response.ok) state.session = await response.json();
  if (state.session && state.session.actions.length) {
    $("detail-actions").hidden = false;
    for (const button of document.querySelectorAll("[data-action]")) button.addEventListener("click", () => act(button.dataset.action));
  }
  const recent = await api("/api/events");
  if (recent.ok) addEvents(await recent.json());
  $("detail-close").addEventListener("click", () => { state.picked = null; $("detail").hidden = true; render(); connect(); });
  $("tab-screen").addEventListener("click", () => { state.tab = "screen"; $("screen").hidden = false; $("log").hidden = true;
    $("tab-screen").className = "on"; $("tab-log").className = ""; });
  $("tab-log").addEventListener("click", () => { state.tab = "log"; $("screen").hidden = true; $("log").hidden = false;
    $("tab-log").className = "on"; $("tab-screen").className = ""; if (state.picked) loadLog(state.picked); });
  setInterval(tick, 1000);
  connect();
}

start();
