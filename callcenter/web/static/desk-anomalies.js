// The ticket view's anomalies (异常事件): those of the ticket shown, kept live; logging one a
// resident (or the heating office) told of (登记异常事件: kind, a complaint's class, households
// for a collective one, what was said); reporting a late step the service saw to the
// department head (上报客服部长), due within [orders] report_within_minutes of its deadline.

import { formatNumber, localTime, onLanguageChange, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";

const $ = (id) => document.getElementById(id);
// The kinds an agent logs, with 004's numbers; the late steps (1–3) are the service's.
const LOGGED = [
  ["station_unreachable", 4],
  ["praise_repairman", 5],
  ["complaint_repairman", 6],
  ["complaint_fee_collector", 7],
  ["suggestion", 8],
  ["forwarded", 9],
];
const NUMBER = { accept_late: 1, contact_late: 2, repair_late: 3, ...Object.fromEntries(LOGGED) };
const CLASSED = ["complaint_repairman", "complaint_fee_collector", "forwarded"];
const CLASS_REQUIRED = ["complaint_repairman", "complaint_fee_collector"];
const CLASSES = ["valid", "assisted", "invalid", "collective"];
const FIELDS = ["kind", "class", "households", "detail"];

const view = {
  ticketId: null,
  rows: [],
  status: "idle", // idle | loading | ok | error
  started: false,
  seq: 0,
  said: "", // what logging one answered, kept while the list is read again
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function kindLabel(kind) {
  return NUMBER[kind] ? `${NUMBER[kind]} ${t(`anomaly.kind.${kind}`)}` : String(kind);
}

/** The ticket view opened `ticketId` (null: it went back to the form). */
export function anomaliesFor(ticketId) {
  start();
  if (ticketId === view.ticketId) return;
  view.ticketId = ticketId;
  view.rows = [];
  view.said = "";
  closeLog(false);
  if (ticketId) load();
  else render();
}

/** A live `anomaly` message: the shown ticket's list is read again. */
export function anomalyMessage(msg) {
  if (view.ticketId && msg.ticket_id === view.ticketId) load();
}

async function load() {
  const id = view.ticketId;
  const seq = ++view.seq;
  if (!view.rows.length) view.status = "loading";
  render();
  try {
    const response = await api(`/api/anomalies?ticket=${encodeURIComponent(id)}&limit=100`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const rows = await response.json();
    if (seq !== view.seq) return; // another ticket, or a newer read
    view.rows = rows;
    view.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the ticket's anomalies failed", err);
    if (seq !== view.seq) return;
    view.status = "error";
  }
  render();
}

// -- the list -----------------------------------------------------------------------------
function stateText(a) {
  const parts = [];
  if (a.source === "agent") parts.push(t("anomaly.reported_logged"));
  else if (a.reported_at) {
    const key = a.report_late ? "anomaly.reported_late" : "anomaly.reported";
    parts.push(t(key, { time: localTime(a.reported_at), by: a.reported_by || "" }));
  } else parts.push(t("anomaly.awaiting_report", { time: localTime(a.report_due) }));
  if (a.unreported_at) parts.push(t("anomaly.unreported", { time: localTime(a.unreported_at) }));
  if (a.class) parts.push(t(`anomaly.class.${a.class}`));
  if (a.households) parts.push(t("anomaly.households_n", { count: formatNumber(a.households) }));
  if (a.follow_up_late_at) parts.push(t("anomaly.follow_up_missed"));
  else if (a.follow_up_due && !a.followed_up_at && !a.closed_at) {
    parts.push(t("anomaly.follow_up_due", { time: localTime(a.follow_up_due) }));
  }
  if (a.status === "closed") parts.push(t("anomaly.closed", { by: a.closed_by || "" }));
  else if (a.status === "open") parts.push(t("anomaly.open"));
  return parts.join(" · ");
}

function item(a) {
  const li = el("li", "anomaly");
  li.dataset.anomaly = a.id;
  const head = el("p", "anomaly-head");
  const badge = el("span", `badge anomaly-kind anomaly-${a.source}`, kindLabel(a.kind));
  const when = el("time", "muted", localTime(a.occurred_at));
  when.dateTime = a.occurred_at;
  head.append(badge, " ", when);
  const state = el("p", "anomaly-report small", stateText(a));
  state.classList.add(a.unreported_at ? "tone-bad" : a.reported_at ? "tone-ok" : "tone-warn");
  li.append(head, state);
  if (a.detail) li.append(el("p", "anomaly-detail small", a.detail));
  if (a.source === "service" && !a.reported_at) {
    const report = el("button", "primary small-button", t("anomaly.report"));
    report.type = "button";
    report.dataset.report = a.id;
    li.append(report);
  }
  li.append(el("p", "field-error", ""));
  li.lastElementChild.hidden = true;
  li.lastElementChild.setAttribute("role", "alert");
  return li;
}

function render() {
  const list = $("saved-anomalies");
  if (!list) return;
  list.replaceChildren(...view.rows.map(item));
  const status = $("saved-anomalies-status");
  let note = "";
  if (view.status === "loading") note = t("anomaly.loading");
  else if (view.status === "error") note = t("anomaly.load_error");
  else if (view.status === "ok" && !view.rows.length) note = t("anomaly.none");
  else note = view.said;
  status.textContent = note;
  renderLogForm();
}

async function report(id, button) {
  button.disabled = true;
  const error = button.parentElement.querySelector(".field-error");
  try {
    const response = await api(`/api/anomalies/${encodeURIComponent(id)}/report`, {
      method: "POST",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    view.rows = view.rows.map((a) => (a.id === id ? body : a));
    render();
    const li = $("saved-anomalies").querySelector(`li[data-anomaly="${CSS.escape(id)}"]`);
    if (li) {
      li.tabIndex = -1; // the keyboard stays on what it reported
      li.focus();
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    button.disabled = false;
    error.hidden = false;
    error.textContent = err.message && !err.message.startsWith("HTTP")
      ? err.message
      : t("anomaly.failed");
  }
}

// -- logging one ---------------------------------------------------------------------------
function renderLogForm() {
  const kind = $("anomaly-kind");
  const chosen = kind.value;
  kind.replaceChildren(
    ...LOGGED.map(([k, n]) => {
      const option = el("option", "", `${n} ${t(`anomaly.kind.${k}`)}`);
      option.value = k;
      return option;
    }),
  );
  if (chosen) kind.value = chosen;
  const cls = $("anomaly-class");
  const had = cls.value;
  const none = el("option", "", t("anomaly.class_none"));
  none.value = "";
  cls.replaceChildren(
    none,
    ...CLASSES.map((c) => {
      const option = el("option", "", t(`anomaly.class.${c}`));
      option.value = c;
      return option;
    }),
  );
  cls.value = had;
  fitFields();
  $("anomaly-log-open").textContent = t("anomaly.log_title");
}

/** The class only for a complaint (a forwarded case may have none); households for a
 * collective one (002 第12篇: five or more, the same event). */
function fitFields() {
  const kind = $("anomaly-kind").value;
  $("anomaly-class-field").hidden = !CLASSED.includes(kind);
  $("anomaly-class").required = CLASS_REQUIRED.includes(kind);
  const collective = CLASSED.includes(kind) && $("anomaly-class").value === "collective";
  $("anomaly-households-field").hidden = !collective;
}

function openLog() {
  view.said = "";
  $("anomaly-log").hidden = false;
  $("anomaly-log-open").setAttribute("aria-expanded", "true");
  $("anomaly-kind").focus();
}

function closeLog(focus = true) {
  const form = $("anomaly-log");
  if (!form) return;
  form.reset();
  form.hidden = true;
  clearErrors();
  fitFields();
  $("anomaly-log-open").setAttribute("aria-expanded", "false");
  if (focus) $("anomaly-log-open").focus();
}

function clearErrors() {
  for (const name of [...FIELDS, "form"]) {
    const error = $(`anomaly-err-${name}`);
    error.hidden = true;
    error.textContent = "";
  }
  for (const name of FIELDS) $(`anomaly-${name}`).removeAttribute("aria-invalid");
}

function showError(field, message) {
  const name = FIELDS.includes(field) ? field : "form";
  const error = $(`anomaly-err-${name}`);
  error.hidden = false;
  error.textContent = message;
  if (name !== "form") {
    $(`anomaly-${name}`).setAttribute("aria-invalid", "true");
    $(`anomaly-${name}`).focus();
  }
}

function body() {
  const kind = $("anomaly-kind").value;
  const out = { kind, detail: $("anomaly-detail").value };
  if (CLASSED.includes(kind) && $("anomaly-class").value) out.class = $("anomaly-class").value;
  if (!$("anomaly-households-field").hidden && $("anomaly-households").value !== "") {
    out.households = Number($("anomaly-households").value);
  }
  return out;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const ticketId = view.ticketId;
  if (!ticketId) return;
  const sent = body();
  if (CLASS_REQUIRED.includes(sent.kind) && !sent.class) {
    showError("class", t("anomaly.class_missing"));
    return;
  }
  if (!sent.detail.trim()) {
    showError("detail", t("anomaly.detail_missing"));
    return;
  }
  const save = $("anomaly-log-save");
  save.disabled = true;
  try {
    const response = await api(`/api/tickets/${encodeURIComponent(ticketId)}/anomalies`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(sent),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(answer.field, answer.message || t("anomaly.failed"));
      return;
    }
    if (view.ticketId === ticketId && !view.rows.some((a) => a.id === answer.id)) {
      view.rows = [answer, ...view.rows];
      view.status = "ok";
    }
    view.said = t("anomaly.logged", { kind: kindLabel(answer.kind) });
    closeLog(true);
    render();
  } catch (err) {
    if (err instanceof SignedOut) return;
    showError("form", t("error.network"));
  } finally {
    save.disabled = false;
  }
}

function start() {
  if (view.started || !$("anomaly-log")) return;
  view.started = true;
  $("anomaly-log-open").addEventListener("click", () => {
    if ($("anomaly-log").hidden) openLog();
    else closeLog();
  });
  $("anomaly-kind").addEventListener("change", fitFields);
  $("anomaly-class").addEventListener("change", fitFields);
  $("anomaly-log").addEventListener("submit", submit);
  $("anomaly-log-cancel").addEventListener("click", () => closeLog());
  $("anomaly-log").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // Esc closes the form, not the ticket
      closeLog();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.stopPropagation();
      $("anomaly-log").requestSubmit();
    }
  });
  $("saved-anomalies").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-report]");
    if (button) report(button.dataset.report, button);
  });
  onLanguageChange(render);
  render();
}
