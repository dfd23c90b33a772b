// The live page's anomalies panel (异常事件) for the department head and the leads: today's,
// newest first, with open complaints from earlier days (tracked until closed), counts by kind,
// arriving live from `anomaly` messages; a lead closes an open complaint with its resolution.
// The live message carries no detail text (docs/anomalies.md): the API is asked for the rest.

import { formatNumber, localTime, t, timeZoneName } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { $, el, state } from "/static/live-state.js";

// 004's nine, in its order: the number is the index + 1.
export const ANOMALY_KINDS = [
  "accept_late",
  "contact_late",
  "repair_late",
  "station_unreachable",
  "praise_repairman",
  "complaint_repairman",
  "complaint_fee_collector",
  "suggestion",
  "forwarded",
];
const COMPLAINTS = ["complaint_repairman", "complaint_fee_collector", "forwarded"];
const LEADS = ["team_lead", "qa_lead", "supervisor", "admin"];
const MAX_ROWS = 200;
const MINUTE_MS = 60_000;

const panel = {
  rows: new Map(), // id → anomaly (the API's shape; a live message's until the API answers)
  status: "loading", // loading | ok | forbidden | error
  stations: new Map(), // code → name
  day: "", // the hotline's today (YYYY-MM-DD) the list was loaded for
  closing: null, // the id whose close form is open
};

/** YYYY-MM-DD of `when` in the hotline's zone. */
function dayOf(when) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: timeZoneName() }).format(when);
}

function today(row) {
  return dayOf(new Date(row.occurred_at)) === panel.day;
}

function isOpenComplaint(row) {
  return COMPLAINTS.includes(row.kind) && !row.closed_at;
}

function kindLabel(kind) {
  const n = ANOMALY_KINDS.indexOf(kind) + 1;
  return n ? `${n} ${t(`anomaly.kind.${kind}`)}` : String(kind);
}

async function getJson(path) {
  const response = await api(path);
  if (response.status === 403) return { forbidden: true };
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return { body: await response.json() };
}

async function loadStations() {
  try {
    const { body } = await getJson("/api/stations");
    for (const s of body || []) panel.stations.set(s.code, s.name);
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("loading the stations failed", err);
  }
}

/** Today's (from midnight in the hotline's zone) and the complaints still open. */
export async function loadAnomalies() {
  if (panel.status === "forbidden") return;
  panel.day = dayOf(new Date());
  const from = encodeURIComponent(`${panel.day}T00:00:00`);
  try {
    const [todays, open] = await Promise.all([
      getJson(`/api/anomalies?from=${from}&limit=${MAX_ROWS}`),
      getJson(`/api/anomalies?state=open&limit=${MAX_ROWS}`),
    ]);
    if (todays.forbidden) {
      panel.status = "forbidden"; // not a role that reads anomalies
    } else {
      // Merged: a live message may have come while the lists were being read.
      const rows = new Map();
      for (const row of panel.rows.values()) if (today(row)) rows.set(row.id, row);
      for (const row of [...todays.body, ...open.body]) rows.set(row.id, row);
      panel.rows = rows;
      panel.status = "ok";
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the anomalies failed", err);
    panel.status = "error";
  }
  renderAnomalies();
}

export async function startAnomalies() {
  $("anomaly-list").addEventListener("click", onClick);
  $("anomaly-list").addEventListener("submit", onSubmit);
  $("anomaly-list").addEventListener("keydown", onKey);
  setInterval(anomaliesTick, MINUTE_MS);
  await loadStations();
  await loadAnomalies();
}

/** A live `anomaly` message: raised, unreported (漏报) or follow_up_missed. */
export function anomalyMessage(msg) {
  if (!msg.id || panel.status === "forbidden") return;
  const known = panel.rows.get(msg.id);
  const row = { ...(known || {}), ...msg };
  delete row.type;
  delete row.event;
  if (!known) {
    row.detail = "";
    // What an agent logs is reported by logging it.
    row.reported_at = msg.source === "agent" ? msg.raised_at : null;
    row.status = COMPLAINTS.includes(msg.kind) ? "open" : null;
  }
  if (msg.event === "unreported") row.unreported_at = msg.report_due;
  if (msg.event === "follow_up_missed") row.follow_up_late_at = msg.follow_up_due;
  if (!known && !today(row) && !isOpenComplaint(row)) return;
  panel.rows.set(row.id, row);
  renderAnomalies();
  refresh(row.id); // the detail and the rest, as the API shows them to this user
}

async function refresh(id) {
  try {
    const { body } = await getJson(`/api/anomalies/${encodeURIComponent(id)}`);
    if (body && panel.rows.has(id)) {
      panel.rows.set(id, body);
      renderAnomalies();
    }
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("loading the anomaly failed", err);
  }
}

/** Every minute, while the page is shown and live: read again. A report, a follow-up or a
 * close sends no live message (only raised, unreported and follow_up_missed do), so the
 * states would otherwise wait for a reconnect; a new day also starts a new list. */
function anomaliesTick() {
  if (panel.status === "forbidden" || document.hidden || state.conn !== "live") return;
  loadAnomalies();
}

// -- drawing ------------------------------------------------------------------------------
function sorted() {
  return [...panel.rows.values()].sort(
    (a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at) || (a.id < b.id ? 1 : -1),
  );
}

function reportState(a) {
  if (a.source === "agent") return [t("anomaly.reported_logged"), "ok"];
  const parts = [];
  let tone = "warn";
  if (a.reported_at) {
    const key = a.report_late ? "anomaly.reported_late" : "anomaly.reported";
    parts.push(t(key, { time: localTime(a.reported_at), by: a.reported_by || "" }));
    tone = "ok";
  }
  if (a.unreported_at) {
    parts.unshift(t("anomaly.unreported", { time: localTime(a.unreported_at) }));
    tone = "bad";
  } else if (!a.reported_at) {
    parts.push(t("anomaly.awaiting_report", { time: localTime(a.report_due) }));
  }
  return [parts.join(" · "), tone];
}

/** For a late step the service saw: how long ago its deadline passed. */
export function lateBy(a) {
  const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(a.occurred_at)) / MINUTE_MS));
  return t("anomaly.late_by", { time: localTime(a.occurred_at), minutes: formatNumber(minutes) });
}

/** A complaint's class, its follow-up and whether it is closed. */
export function complaintState(a) {
  const parts = [];
  if (a.class) parts.push(t(`anomaly.class.${a.class}`));
  if (a.households) parts.push(t("anomaly.households_n", { count: formatNumber(a.households) }));
  if (a.escalated_at) parts.push(t("anomaly.escalated", { time: localTime(a.escalated_at) }));
  if (a.follow_up_late_at) parts.push(t("anomaly.follow_up_missed"));
  else if (a.followed_up_at) parts.push(t("anomaly.followed_up", { time: localTime(a.followed_up_at) }));
  else if (a.follow_up_due && !a.closed_at) {
    parts.push(t("anomaly.follow_up_due", { time: localTime(a.follow_up_due) }));
  }
  parts.push(a.closed_at ? t("anomaly.closed", { by: a.closed_by || "" }) : t("anomaly.open"));
  return parts.join(" · ");
}

function item(a) {
  const li = el("li", "anomaly");
  li.dataset.anomaly = a.id;
  const complaint = COMPLAINTS.includes(a.kind);
  li.classList.toggle("anomaly-open", complaint && !a.closed_at);
  const head = el("p", "anomaly-head");
  const badge = el("span", `badge anomaly-kind anomaly-${a.source}`, kindLabel(a.kind));
  const when = el("time", "muted", localTime(a.occurred_at));
  when.dateTime = a.occurred_at;
  head.append(badge, " ", when);
  const where = el("p", "anomaly-where muted small");
  where.textContent = [
    a.station ? panel.stations.get(a.station) || a.station : t("station.none"),
    a.ticket_id ? t("anomaly.ticket", { id: a.ticket_id }) : "",
    a.agent || "",
  ]
    .filter(Boolean)
    .join(" · ");
  li.append(head, where);
  if (a.source === "service") li.append(el("p", "anomaly-late small", lateBy(a)));
  const [report, tone] = reportState(a);
  li.append(el("p", `anomaly-report small tone-${tone}`, report));
  if (complaint) li.append(el("p", "anomaly-complaint small", complaintState(a)));
  if (a.detail) li.append(el("p", "anomaly-detail small", a.detail));
  if (a.resolution) {
    li.append(el("p", "anomaly-resolution small", t("anomaly.resolution", { text: a.resolution })));
  }
  if (complaint && !a.closed_at && state.me && LEADS.includes(state.me.role)) {
    li.append(panel.closing === a.id ? closeForm(a) : closeButton(a));
  }
  return li;
}

function closeButton(a) {
  const button = el("button", "small-button", t("anomaly.close"));
  button.type = "button";
  button.dataset.close = a.id;
  return button;
}

function closeForm(a) {
  const form = el("form", "anomaly-close-form");
  form.dataset.id = a.id;
  form.noValidate = true;
  const id = `resolution-${a.id}`;
  const label = el("label", "", t("anomaly.resolution_label"));
  label.htmlFor = id;
  const text = el("textarea");
  text.id = id;
  text.rows = 2;
  text.maxLength = 2000;
  const error = el("p", "field-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const save = el("button", "primary small-button", t("anomaly.close_submit"));
  save.type = "submit";
  const cancel = el("button", "ghost small-button", t("anomaly.cancel"));
  cancel.type = "button";
  cancel.dataset.cancel = a.id;
  const actions = el("div", "form-actions");
  actions.append(save, cancel, el("span", "muted small", t("anomaly.close_keys")));
  form.append(label, text, error, actions);
  return form;
}

function renderCounts(rows) {
  const counts = new Map();
  for (const a of rows) if (today(a)) counts.set(a.kind, (counts.get(a.kind) || 0) + 1);
  $("anomaly-counts").replaceChildren(
    ...ANOMALY_KINDS.filter((k) => counts.has(k)).map((k) => {
      const li = el("li", "anomaly-count");
      li.dataset.kind = k;
      li.append(el("span", "", kindLabel(k)), " ", el("strong", "", formatNumber(counts.get(k))));
      return li;
    }),
  );
  const total = [...counts.values()].reduce((s, n) => s + n, 0);
  $("anomalies-count").textContent = formatNumber(total);
  $("anomalies-count").classList.toggle("active", total > 0);
}

export function renderAnomalies() {
  const box = $("anomalies-panel");
  if (!box) return;
  box.hidden = panel.status === "forbidden";
  if (box.hidden) return;
  let rows = sorted();
  if (rows.length > MAX_ROWS) rows = rows.slice(0, MAX_ROWS);
  renderCounts(rows);
  // Redrawing would lose what a lead is typing: the open form is kept as it is.
  const list = $("anomaly-list");
  const open = panel.closing ? list.querySelector(`form[data-id="${CSS.escape(panel.closing)}"]`) : null;
  const typing = open && open.contains(document.activeElement) ? document.activeElement : null;
  list.replaceChildren(
    ...rows.map((a) => {
      if (open && a.id === panel.closing && !a.closed_at) {
        const li = item(a);
        li.replaceChild(open, li.lastElementChild);
        return li;
      }
      return item(a);
    }),
  );
  if (typing) typing.focus(); // moved with its form: the lead types on
  const status = $("anomalies-status");
  let note = "";
  if (panel.status === "error") note = t("anomalies.error");
  else if (panel.status === "ok" && rows.length === 0) note = t("anomalies.empty");
  status.hidden = !note;
  status.textContent = note;
}

// -- closing a complaint (a lead) ---------------------------------------------------------
function onClick(event) {
  const open = event.target.closest("button[data-close]");
  if (open) {
    panel.closing = open.dataset.close;
    renderAnomalies();
    document.getElementById(`resolution-${panel.closing}`)?.focus();
    return;
  }
  const cancel = event.target.closest("button[data-cancel]");
  if (cancel) stopClosing(cancel.dataset.cancel);
}

function stopClosing(id) {
  panel.closing = null;
  renderAnomalies();
  $("anomaly-list").querySelector(`button[data-close="${CSS.escape(id)}"]`)?.focus();
}

function onKey(event) {
  const form = event.target.closest("form.anomaly-close-form");
  if (!form) return;
  if (event.key === "Escape") {
    event.preventDefault();
    stopClosing(form.dataset.id);
  } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
}

async function onSubmit(event) {
  const form = event.target.closest("form.anomaly-close-form");
  if (!form) return;
  event.preventDefault();
  const id = form.dataset.id;
  const text = form.querySelector("textarea");
  const error = form.querySelector(".field-error");
  const say = (message) => {
    error.hidden = false;
    error.textContent = message;
    text.focus();
  };
  if (!text.value.trim()) {
    say(t("anomaly.resolution_missing"));
    return;
  }
  form.querySelector('button[type="submit"]').disabled = true;
  try {
    const response = await api(`/api/anomalies/${encodeURIComponent(id)}/close`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ resolution: text.value }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      form.querySelector('button[type="submit"]').disabled = false;
      say(body.message || t("anomaly.failed"));
      return;
    }
    panel.rows.set(id, body);
    panel.closing = null;
    renderAnomalies();
    // The keyboard stays on the item it closed.
    const li = $("anomaly-list").querySelector(`li[data-anomaly="${CSS.escape(id)}"]`);
    if (li) {
      li.tabIndex = -1;
      li.focus();
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    form.querySelector('button[type="submit"]').disabled = false;
    say(t("error.network"));
  }
}
