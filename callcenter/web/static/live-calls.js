// The live page's call panels, no I/O: the phones ringing now (正在振铃) with their ring count
// ticking and overflow transfers (溢出转接), the latest violations (最新违规), and the notices of
// failed overflow transfers, which stay until dismissed.

import { formatNumber, localTime, shortTime, t, timeZoneName } from "/static/i18n.js";
import {
  $,
  MAX_VIOLATIONS,
  agentCell,
  callerCell,
  cell,
  el,
  labelled,
  state,
} from "/static/live-state.js";

const KINDS = ["ring_limit", "late_answer", "rang_out", "hung_up_first"];

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
function chargeLine(n, line, meta) {
  const detail = t("charge.detail", { ticket: n.ticket_id || "", station: n.station || "" });
  line.append(el("strong", "notice-title", t("charge.title")), " ", el("span", "", detail));
  meta.append(el("span", "metric", localTime(n.at)));
  if (n.by) meta.append(el("span", "metric", n.by));
  meta.append(el("span", "metric", t("charge.hint")));
}

function noticeItem(n) {
  const item = el("li", "notice");
  item.dataset.notice = n.id;
  const body = el("div", "notice-body");
  const line = el("p", "notice-line");
  if (n.type === "callback") {
    const meta = el("p", "notice-meta");
    chargeLine(n, line, meta);
    body.append(line, meta);
    return withClose(item, body, n);
  }
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
  return withClose(item, body, n);
}

function withClose(item, body, n) {
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

/** `callback` with charged: a resident reports paying a fee — the department head must see
it (002): the same kind of notice, until dismissed. */
export function addChargeNotice(msg) {
  if (!msg.charged || !msg.callback_id) return;
  addOverflowFailure({ ...msg, id: `charge-${msg.callback_id}` });
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

