// The live page's state and drawing, no I/O: header and connection status, the banner saying
// the service is degraded (服务降级, from /api/health), today's answer rate,
// the PBX event sources (事件源), the phones ringing now (正在振铃) with their ring count ticking
// and overflow transfers (溢出转接), the latest violations (最新违规), and the notices of failed
// overflow transfers, which stay until dismissed.
// Data from the server (callers' numbers, agents' names, PBX answers) only goes in textContent.

import {
  chineseNumber,
  formatNumber,
  localTime,
  setTimeZone,
  shortTime,
  t,
  timeZoneName,
} from "/static/i18n.js";

export const MAX_VIOLATIONS = 50;
const KINDS = ["ring_limit", "late_answer", "rang_out", "hung_up_first"];
const SOURCE_KINDS = ["hep", "ami", "esl", "mqtt"];
// A source's state → the colour of its dot: green working, grey on the way, amber retrying, red.
const SOURCE_TONES = {
  connected: "ok",
  listening: "ok",
  connecting: "idle",
  starting: "idle",
  backoff: "warn",
  auth_failed: "bad",
};

export const state = {
  me: null,
  ringLimit: 3,
  cycleSeconds: 5,
  offsetMs: 0, // server clock − browser clock, from the snapshot's `now`
  // leg_id → {leg, alerted, row, ringsCell, badge, shown}; leg.state "unknown": it rang when
  // the service restarted and nobody knows whether it still does (no ticking, never "over").
  ringing: new Map(),
  violations: [], // newest first
  violationsFailed: false,
  stats: null,
  statsStatus: "loading", // loading | ok | forbidden | error
  statsAt: null,
  sources: [],
  sourcesStatus: "loading", // loading | ok | forbidden | error
  sourcesAt: null,
  overflowTargets: new Map(), // leg_id → target, for ringing legs sent to overflow
  notices: [], // failed overflow transfers, newest first, until dismissed
  conn: "connecting", // connecting | live | reconnecting
  retryAt: 0,
  // /api/health: ok | degraded | unknown (the check itself failed: not known, not degraded)
  health: "loading",
  healthReasons: [], // the server's words (English), shown as they are
  healthAt: null,
};

export const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Mark a cell for the narrow (phone) layout: its grid area, and the column name it shows
 * in front of the value there, where the table head is hidden. */
function labelled(td, area, labelKey) {
  td.classList.add(area);
  if (labelKey) td.dataset.label = t(labelKey);
  return td;
}

function agentCell(name) {
  return name ? cell(name) : cell(t("agent.none"), "muted");
}

function callerCell(caller) {
  return caller ? cell(caller, "mono") : cell(t("caller.none"), "muted");
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Show every time in `zone` (web.timezone, named by the server); redraw if it changed. */
export function useTimeZone(zone) {
  const before = timeZoneName();
  if (setTimeZone(zone) && timeZoneName() !== before && state.me) renderAll();
}

/** The left column (rate, sources) goes when neither panel is the user's to see. */
function renderSide() {
  const none = state.statsStatus === "forbidden" && state.sourcesStatus === "forbidden";
  $("side").hidden = none;
  document.querySelector("main").classList.toggle("no-stats", none);
}

// -- header and connection status --------------------------------------------------------
const DESK_ROLES = ["agent", "team_lead", "qa_lead", "supervisor", "admin"];

export function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-role").textContent = t(`role.${me.role}`);
  const ext = $("user-extension");
  ext.hidden = !me.extension;
  ext.textContent = me.extension ? t("header.extension", { extension: me.extension }) : "";
  // The desk: agents take tickets there, and the leads follow every agent's.
  $("desk-link").hidden = !DESK_ROLES.includes(me.role);
}

export function renderConn() {
  const box = $("conn");
  box.className = `conn conn-${state.conn}`;
  const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  setText($("conn-text"), t(`conn.${state.conn}`, { seconds }));
  const health = $("conn-health");
  health.hidden = state.health !== "unknown";
  setText(health, health.hidden ? "" : t("health.unknown"));
}

/** Only a real change: the status is a live region, redrawn after every health check. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// -- the service's health: a red banner while it is degraded -------------------------------
let healthSaid = ""; // what the banner last announced: which problems, in which language

/** role="alert" reads the heading out when the banner appears, a problem comes or goes, or
 * the language changes; not when only a count in a reason moves ("for 42 s" → "for 47 s"). */
export function renderHealth() {
  const degraded = state.health === "degraded";
  const reasons = degraded ? state.healthReasons : [];
  $("health-banner").hidden = !degraded;
  renderConn();
  const said = degraded
    ? [t("health.degraded"), ...reasons.map((r) => r.replace(/\d+(\.\d+)?/g, "#"))].join("\n")
    : "";
  if (said !== healthSaid) {
    healthSaid = said;
    $("health-title").replaceChildren(degraded ? t("health.degraded") : "");
  }
  const list = $("health-reasons");
  if (list.children.length !== reasons.length) {
    list.replaceChildren(
      ...reasons.map(() => {
        const item = el("li", "health-reason");
        item.lang = "en"; // technical English from the server, on a Chinese page too
        return item;
      }),
    );
  }
  reasons.forEach((reason, i) => setText(list.children[i], reason));
  $("health-reasons-heading").hidden = reasons.length === 0;
  $("health-no-reasons").hidden = !degraded || reasons.length > 0;
  $("health-checked").textContent =
    degraded && state.healthAt ? t("health.checked", { time: localTime(state.healthAt) }) : "";
}

// -- panel 1: today's answer rate ---------------------------------------------------------
/** A count from /api/stats/answers; "—" while the server does not send it. */
function count(total, name) {
  const value = total ? total[name] : undefined;
  return typeof value === "number" ? formatNumber(value) : "—";
}

export function renderStats() {
  const forbidden = state.statsStatus === "forbidden";
  $("rate-panel").hidden = forbidden;
  renderSide();
  if (forbidden) return;
  const limit = state.ringLimit;
  const limitVars = { limit, limit_cn: chineseNumber(limit) };
  $("rate-title").textContent = t("rate.title", limitVars);
  $("rate-rule").textContent = t("rate.rule", {
    ...limitVars,
    cycle: formatNumber(state.cycleSeconds),
  });
  // The big figure: answered within the limit ÷ rate_base (calls received, less callers who
  // hung up before the deadline and calls still ringing inside it); the denominators under it.
  const total = state.statsStatus === "ok" && state.stats ? state.stats.total : null;
  const rate = total ? total.within_limit_rate : null;
  const noRate = typeof rate !== "number";
  $("rate-value").textContent = noRate
    ? "—"
    : formatNumber(rate, { style: "percent", maximumFractionDigits: 1 });
  $("rate-value").classList.toggle("none", noRate);
  let note = "";
  if (state.statsStatus === "error") note = t("rate.error");
  else if (total && total.rate_base === 0) note = t("rate.no_calls");
  else if (total) {
    note = t("rate.basis", {
      ...limitVars,
      within: count(total, "answered_within_limit"),
      base: count(total, "rate_base"),
    });
  }
  $("rate-note").textContent = note;
  const pending = total && typeof total.pending === "number" ? total.pending : 0;
  $("rate-pending").hidden = pending === 0;
  $("rate-pending").textContent = pending
    ? t("rate.pending", { count: formatNumber(pending) })
    : "";
  for (const name of ["offered", "answered", "over_limit", "abandoned", "unanswered", "lost"]) {
    $(`count-${name.replace("_", "-")}`).textContent = count(total, name);
  }
  $("count-abandoned-in-time").textContent = t("rate.abandoned_in_time", {
    count: count(total, "abandoned_in_time"),
  });
  $("row-lost").hidden = !(total && total.lost > 0); // shown only when some were lost
  $("rate-updated").textContent = state.statsAt
    ? t("rate.updated", { time: localTime(state.statsAt) })
    : "";
}

// -- panel 1b: PBX event sources ----------------------------------------------------------
function sourceItem(source) {
  const item = el("li", "source");
  item.dataset.source = source.id;
  const knownState = Object.hasOwn(SOURCE_TONES, source.state);
  const tone = knownState ? SOURCE_TONES[source.state] : "idle";
  const knownKind = SOURCE_KINDS.includes(source.kind);
  const head = el("div", "source-head");
  const dot = el("span", `source-dot tone-${tone}`);
  dot.setAttribute("aria-hidden", "true");
  const kind = el("span", "badge source-kind", String(source.kind || "").toUpperCase());
  if (knownKind) kind.title = t(`source_kind.${source.kind}`);
  const address = el("span", "source-address mono muted", source.address || "");
  address.title = source.address || "";
  const stateText = el(
    "span",
    `source-state tone-${tone}`,
    knownState ? t(`source_state.${source.state}`) : String(source.state),
  );
  if (source.connected_since) {
    stateText.title = t("sources.since", { time: localTime(source.connected_since) });
  }
  head.append(dot, el("span", "source-id strong", source.id), kind, address, stateText);

  const perSecond = Number(source.events_per_second) || 0;
  const rate = formatNumber(perSecond, { maximumFractionDigits: perSecond < 10 ? 1 : 0 });
  const last = source.last_event_at
    ? t("sources.last_event", { time: localTime(source.last_event_at) })
    : t("sources.no_events");
  const metrics = el("div", "source-metrics muted");
  metrics.append(el("span", "metric", t("sources.rate", { rate })), el("span", "metric", last));
  const errors = el(
    "span",
    source.errors ? "metric source-errors" : "metric",
    t("sources.errors", { count: formatNumber(source.errors || 0) }),
  );
  if (source.last_error) errors.title = source.last_error;
  metrics.append(errors);
  if (source.reconnects) {
    metrics.append(
      el("span", "metric", t("sources.reconnects", { count: formatNumber(source.reconnects) })),
    );
  }
  item.append(head, metrics);
  if (source.last_error) {
    const error = el("div", "source-error", t("sources.last_error", { error: source.last_error }));
    error.title = source.last_error;
    item.append(error);
  }
  return item;
}

export function renderSources() {
  const forbidden = state.sourcesStatus === "forbidden";
  $("sources-panel").hidden = forbidden;
  renderSide();
  if (forbidden) return;
  $("source-list").replaceChildren(...state.sources.map(sourceItem));
  const empty = $("sources-empty");
  let note = "";
  if (state.sourcesStatus === "error") note = t("sources.error");
  else if (state.sourcesStatus === "ok" && state.sources.length === 0) note = t("sources.empty");
  empty.hidden = !note;
  empty.textContent = note;
  empty.classList.toggle("bad", state.sourcesStatus === "error");
  $("sources-updated").textContent = state.sourcesAt
    ? t("rate.updated", { time: localTime(state.sourcesAt) })
    : "";
}

// -- panel 2: phones ringing now -----------------------------------------------------------
function isUnknown(entry) {
  return entry.leg.state === "unknown";
}

function ringsNow(entry) {
  const started = Date.parse(entry.leg.ring_started_at);
  const elapsed = Math.max(0, Date.now() + state.offsetMs - started);
  return Math.floor(elapsed / (state.cycleSeconds * 1000)) + 1;
}

function buildRingingRow(entry) {
  const leg = entry.leg;
  const row = document.createElement("tr");
  row.dataset.leg = leg.leg_id;
  row.dataset.call = leg.call_id;
  row.append(
    cell(leg.extension || "", "strong cell-ext"),
    labelled(agentCell(leg.agent), "cell-agent"),
    labelled(callerCell(leg.caller), "cell-caller"),
  );
  const rings = labelled(cell("", "num"), "cell-rings", "col.rings");
  entry.ringsCell = document.createElement("span");
  entry.ringsCell.className = "rings";
  entry.badge = document.createElement("span");
  entry.badge.className = "badge badge-over";
  entry.badge.textContent = t("ringing.over");
  entry.overflowBadge = document.createElement("span");
  entry.overflowBadge.className = "badge badge-overflow";
  rings.append(entry.ringsCell, entry.badge, entry.overflowBadge);
  const since = labelled(cell(localTime(leg.ring_started_at), "muted"), "cell-since", "col.since");
  row.append(rings, since);
  if (isUnknown(entry)) {
    row.classList.add("unknown");
    row.title = t("ringing.unknown_hint");
  }
  entry.row = row;
  entry.shown = null;
  updateRingingRow(entry);
  updateOverflowBadge(entry);
}

function updateOverflowBadge(entry) {
  const target = state.overflowTargets.get(entry.leg.leg_id);
  entry.overflowBadge.hidden = !target;
  entry.overflowBadge.textContent = target ? t("overflow.sent", { target }) : "";
}

/** `overflow`: the PBX took the redirect; the row shows where the caller went. */
export function markOverflow(msg) {
  const entry = state.ringing.get(msg.leg_id);
  if (!entry || !msg.target) return;
  state.overflowTargets.set(msg.leg_id, String(msg.target));
  updateOverflowBadge(entry);
}

export function updateRingingRow(entry) {
  if (isUnknown(entry)) {
    // Not known to ring: no count to tick and never "over limit"; it goes on the usual
    // phone_stopped / call_closed (outcome "lost" when the service gives up on it).
    if (entry.shown === "unknown") return;
    entry.shown = "unknown";
    const since = shortTime(entry.leg.unknown_since);
    entry.ringsCell.textContent = t("ringing.unknown", { time: since });
    entry.row.classList.remove("over");
    entry.badge.hidden = true;
    return;
  }
  const rings = ringsNow(entry);
  const over = entry.alerted || rings > state.ringLimit;
  const key = `${rings}/${over}`;
  if (entry.shown === key) return;
  entry.shown = key;
  entry.ringsCell.textContent = t("ringing.rings", { rings, limit: state.ringLimit });
  entry.row.classList.toggle("over", over);
  entry.badge.hidden = !over;
}

export function renderRinging() {
  const body = $("ringing-rows");
  const entries = [...state.ringing.values()].sort(
    (a, b) => Date.parse(a.leg.ring_started_at) - Date.parse(b.leg.ring_started_at),
  );
  for (const legId of [...state.overflowTargets.keys()]) {
    if (!state.ringing.has(legId)) state.overflowTargets.delete(legId); // gone while away
  }
  for (const entry of entries) buildRingingRow(entry);
  body.replaceChildren(...entries.map((e) => e.row)); // longest ringing on top
  renderRingingCount();
}

function renderRingingCount() {
  // Phones known to ring; those unknown since a restart are listed, greyed, but not counted.
  const n = [...state.ringing.values()].filter((entry) => !isUnknown(entry)).length;
  $("ringing-count").textContent = formatNumber(n);
  $("ringing-count").classList.toggle("active", n > 0);
  $("ringing-empty").hidden = state.ringing.size > 0;
}

export function addRinging(leg) {
  if (!leg.leg_id || !leg.ring_started_at) return;
  const known = state.ringing.get(leg.leg_id);
  if (known) removeRinging(leg.leg_id); // a repeated event: one row per leg
  const entry = { leg, alerted: Boolean(known && known.alerted) };
  state.ringing.set(leg.leg_id, entry);
  buildRingingRow(entry);
  const body = $("ringing-rows");
  const started = Date.parse(leg.ring_started_at);
  const after = [...body.children].find((row) => {
    const other = state.ringing.get(row.dataset.leg);
    return other && Date.parse(other.leg.ring_started_at) > started;
  });
  body.insertBefore(entry.row, after || null);
  renderRingingCount();
}

export function removeRinging(legId) {
  const entry = state.ringing.get(legId);
  if (!entry) return;
  state.ringing.delete(legId);
  state.overflowTargets.delete(legId);
  entry.row.remove();
  renderRingingCount();
}

export function tick() {
  for (const entry of state.ringing.values()) updateRingingRow(entry);
  if (state.conn === "reconnecting") renderConn();
}

// -- panel 3: latest violations ---------------------------------------------------------
/** Union by id, newest first: live events may arrive while the list is being fetched. */
export function mergeViolations(rows) {
  const byId = new Map(state.violations.map((v) => [v.id, v]));
  for (const row of rows) if (row && row.id) byId.set(row.id, row);
  state.violations = [...byId.values()]
    .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at))
    .slice(0, MAX_VIOLATIONS);
}

function violationRow(v) {
  const row = document.createElement("tr");
  row.dataset.violation = v.id;
  const kind = document.createElement("td");
  const badge = document.createElement("span");
  const known = KINDS.includes(v.kind);
  badge.className = `badge kind kind-${known ? v.kind : "other"}`;
  badge.textContent = known ? t(`kind.${v.kind}`) : String(v.kind);
  kind.append(badge);
  const rings =
    v.rings === null || v.rings === undefined ? "" : t("violations.rings", { rings: v.rings });
  kind.className = "cell-kind";
  row.append(
    cell(localTime(v.occurred_at), "muted nowrap cell-time"),
    kind,
    cell(v.extension || "", "strong cell-ext"),
    labelled(agentCell(v.agent), "cell-agent"),
    labelled(callerCell(v.caller), "cell-caller"),
    cell(rings, "num cell-rings"),
  );
  return row;
}

export function renderViolations() {
  $("violation-rows").replaceChildren(...state.violations.map(violationRow));
  $("times-zone").textContent = t("times.zone", { zone: timeZoneName() });
  const empty = $("violations-empty");
  empty.hidden = state.violations.length > 0 && !state.violationsFailed;
  empty.textContent = t(state.violationsFailed ? "violations.error" : "violations.empty");
}

export function prependViolation(v) {
  if (!v.id || state.violations.some((x) => x.id === v.id)) return;
  // /api/violations gives agents only their own; the live feed sends everyone's.
  if (state.me && state.me.role === "agent" && v.agent !== state.me.name) return;
  mergeViolations([v]);
  if (state.violations[0] !== v) {
    renderViolations(); // an older one arrived late: re-sort
    return;
  }
  const row = violationRow(v);
  row.classList.add("fresh");
  const body = $("violation-rows");
  body.prepend(row);
  while (body.children.length > MAX_VIOLATIONS) body.lastElementChild.remove();
  $("violations-empty").hidden = true;
}

// -- notices: failed overflow transfers (never silent) -----------------------------------
function noticeItem(n) {
  const item = el("li", "notice");
  item.dataset.notice = n.id;
  const body = el("div", "notice-body");
  const line = el("p", "notice-line");
  const detail = t("overflow.failed_detail", {
    extension: n.extension || "",
    target: n.target || "",
    response: n.response || t("overflow.no_response"),
  });
  line.append(el("strong", "notice-title", t("overflow.failed")), " ", el("span", "", detail));
  const meta = el("p", "notice-meta");
  meta.append(el("span", "metric", localTime(n.at)));
  if (n.agent) meta.append(el("span", "metric", n.agent));
  meta.append(el("span", "metric", t("overflow.failed_hint")));
  body.append(line, meta);
  const close = el("button", "notice-close", t("overflow.dismiss"));
  close.type = "button";
  close.dataset.dismiss = n.id;
  item.append(body, close);
  return item;
}

function renderNoticeFrame() {
  const n = state.notices.length;
  $("notices").hidden = n === 0;
  const all = $("notices-dismiss-all");
  all.hidden = n < 2;
  all.textContent = t("overflow.dismiss_all", { count: formatNumber(n) });
}

export function renderNotices() {
  $("notice-list").replaceChildren(...state.notices.map(noticeItem));
  renderNoticeFrame();
}

/** `overflow_failed`: a red notice at the top of the page until someone dismisses it. */
export function addOverflowFailure(msg) {
  if (!msg.id || state.notices.some((n) => n.id === msg.id)) return;
  state.notices.unshift(msg);
  const item = noticeItem(msg);
  item.setAttribute("role", "alert"); // read out once, when it arrives
  $("notice-list").prepend(item);
  renderNoticeFrame();
}

export function dismissNotice(id) {
  state.notices = state.notices.filter((n) => n.id !== id);
  const item = [...$("notice-list").children].find((li) => li.dataset.notice === id);
  if (item) item.remove();
  renderNoticeFrame();
  const next = $("notice-list").querySelector("button[data-dismiss]");
  if (next) next.focus(); // keyboard users stay among the notices
}

export function dismissAllNotices() {
  state.notices = [];
  renderNotices();
}

export function renderAll() {
  renderHeader();
  renderConn();
  renderHealth();
  renderStats();
  renderSources();
  renderRinging();
  renderViolations();
  renderNotices();
}
