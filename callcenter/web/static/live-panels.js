// The live page's state and drawing, no I/O: header and connection status, today's answer rate,
// the phones ringing now (正在振铃) with their ring count ticking, the latest violations (最新违规).
// Data from the server (callers' numbers, agents' names) only goes in textContent.

import { chineseNumber, formatNumber, localTime, t } from "/static/i18n.js";

export const MAX_VIOLATIONS = 50;
const KINDS = ["ring_limit", "late_answer", "rang_out", "hung_up_first"];

export const state = {
  me: null,
  ringLimit: 3,
  cycleSeconds: 5,
  offsetMs: 0, // server clock − browser clock, from the snapshot's `now`
  ringing: new Map(), // leg_id → {leg, alerted, row, ringsCell, badge, shown}
  violations: [], // newest first
  violationsFailed: false,
  stats: null,
  statsStatus: "loading", // loading | ok | forbidden | error
  statsAt: null,
  conn: "connecting", // connecting | live | reconnecting
  retryAt: 0,
};

export const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function agentCell(name) {
  return name ? cell(name) : cell(t("agent.none"), "muted");
}

function callerCell(caller) {
  return caller ? cell(caller, "mono") : cell(t("caller.none"), "muted");
}

// -- header and connection status --------------------------------------------------------
export function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-role").textContent = t(`role.${me.role}`);
  const ext = $("user-extension");
  ext.hidden = !me.extension;
  ext.textContent = me.extension ? t("header.extension", { extension: me.extension }) : "";
}

export function renderConn() {
  const box = $("conn");
  box.className = `conn conn-${state.conn}`;
  const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  $("conn-text").textContent = t(`conn.${state.conn}`, { seconds });
}

// -- panel 1: today's answer rate ---------------------------------------------------------
export function renderStats() {
  const forbidden = state.statsStatus === "forbidden";
  $("rate-panel").hidden = forbidden;
  document.querySelector("main").classList.toggle("no-stats", forbidden);
  if (forbidden) return;
  const limit = state.ringLimit;
  $("rate-title").textContent = t("rate.title", { limit, limit_cn: chineseNumber(limit) });
  $("rate-rule").textContent = t("rate.rule", {
    limit,
    limit_cn: chineseNumber(limit),
    cycle: formatNumber(state.cycleSeconds),
  });
  const total = state.statsStatus === "ok" ? state.stats.total : null;
  const rate = total ? total.within_limit_rate : null;
  const noRate = rate === null || rate === undefined;
  $("rate-value").textContent = noRate
    ? "—"
    : formatNumber(rate, { style: "percent", maximumFractionDigits: 1 });
  $("rate-value").classList.toggle("none", noRate);
  let note = "";
  if (state.statsStatus === "error") note = t("rate.error");
  else if (total && (rate === null || rate === undefined)) note = t("rate.no_answers");
  else if (total) {
    note = t("rate.basis", {
      within: formatNumber(total.answered_within_limit),
      answered: formatNumber(total.answered),
    });
  }
  $("rate-note").textContent = note;
  const counts = {
    offered: total?.offered,
    answered: total?.answered,
    late: total?.answered_late,
    abandoned: total?.abandoned,
    unanswered: total?.unanswered,
  };
  for (const [name, value] of Object.entries(counts)) {
    $(`count-${name}`).textContent = value === undefined ? "—" : formatNumber(value);
  }
  $("rate-updated").textContent = state.statsAt
    ? t("rate.updated", { time: localTime(state.statsAt) })
    : "";
}

// -- panel 2: phones ringing now -----------------------------------------------------------
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
  row.append(cell(leg.extension || "", "strong"), agentCell(leg.agent), callerCell(leg.caller));
  const rings = document.createElement("td");
  rings.className = "num";
  entry.ringsCell = document.createElement("span");
  entry.ringsCell.className = "rings";
  entry.badge = document.createElement("span");
  entry.badge.className = "badge badge-over";
  entry.badge.textContent = t("ringing.over");
  rings.append(entry.ringsCell, entry.badge);
  row.append(rings, cell(localTime(leg.ring_started_at), "muted"));
  entry.row = row;
  entry.shown = null;
  updateRingingRow(entry);
}

export function updateRingingRow(entry) {
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
  for (const entry of entries) buildRingingRow(entry);
  body.replaceChildren(...entries.map((e) => e.row)); // longest ringing on top
  renderRingingCount();
}

function renderRingingCount() {
  const n = state.ringing.size;
  $("ringing-count").textContent = formatNumber(n);
  $("ringing-count").classList.toggle("active", n > 0);
  $("ringing-empty").hidden = n > 0;
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
  row.append(
    cell(localTime(v.occurred_at), "muted nowrap"),
    kind,
    cell(v.extension || "", "strong"),
    agentCell(v.agent),
    callerCell(v.caller),
    cell(rings, "num"),
  );
  return row;
}

export function renderViolations() {
  $("violation-rows").replaceChildren(...state.violations.map(violationRow));
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

export function renderAll() {
  renderHeader();
  renderConn();
  renderStats();
  renderRinging();
  renderViolations();
}
