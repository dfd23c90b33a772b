// The station portal's open order: the resident, the fault, the deadlines and the history
// from GET /api/orders/{id}, the station's steps (接单, 已联系住户, 返单, 退回) as buttons and
// forms whose API errors show beside their field, and the print view (station.css @media print).

import { language, localTime, shortTime, t, timeZoneName } from "/static/i18n.js";
import { priorityNodes } from "/static/priority.js";
import {
  ACTIVE,
  STEPS,
  SignedOut,
  addressOf,
  api,
  held,
  shortId,
  stepDone,
  timeLeft,
} from "/static/station-due.js";
import { pauseWords, renderPause, startPause } from "/static/station-pause.js";

const $ = (id) => document.getElementById(id);
// Which form each status offers (orders/model.py _FROM).
const OFFERS = {
  accept: ["sent"],
  contact: ["sent", "accepted"],
  return: ["sent", "accepted", "contacted"],
  refuse: ["sent", "accepted"],
};
// An API error's field → the input it is shown beside; the service names the text "note".
const FIELD_INPUT = {
  contact: { repairman: "contact-repairman" },
  return: { note: "return-result", result: "return-result", repairman: "return-repairman" },
  refuse: { note: "refuse-reason", reason: "refuse-reason" },
  pause: { reason: "pause-reason", note: "pause-note" },
};
// Where the keyboard goes after a step: on to the next one.
const NEXT_FOCUS = {
  accept: "contact-repairman",
  contact: "return-result",
  pause: "resume",
  resume: "contact-repairman",
};

const state = {
  order: null, // GET /api/orders/{id} as answered
  errors: {}, // input or form id → {code, message}
  message: null, // i18n key of the last step done
  busy: false,
  onChanged: () => {},
  stationName: (code) => code,
};

export function currentId() {
  return state.order ? state.order.id : null;
}

export function currentStatus() {
  return state.order ? state.order.status : null;
}

// -- rendering ------------------------------------------------------------------------------
function row(dl, key, value, href) {
  if (value === null || value === undefined || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = t(key);
  const dd = document.createElement("dd");
  if (href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = value;
    dd.append(a);
  } else {
    dd.textContent = value;
  }
  dl.append(dt, dd);
}

function renderDetails(order) {
  const ticket = order.ticket || null;
  const resident = $("order-resident");
  resident.replaceChildren();
  const fault = $("order-fault");
  fault.replaceChildren();
  if (ticket) {
    row(resident, "portal.name", ticket.reporter_name);
    const phone = ticket.phone || "";
    row(resident, "portal.phone", phone, /^[0-9+]+$/.test(phone) ? `tel:${phone}` : null);
    row(resident, "portal.address", addressOf(ticket));
    if (ticket.address && ticket.address !== ticket.address_standard) {
      row(resident, "portal.address_typed", ticket.address);
    }
    row(fault, "portal.category", ticket.category ? t(`category.${ticket.category}`) : "");
    row(fault, "portal.location", ticket.fault_location);
    row(fault, "portal.severity", ticket.severity ? t(`severity.${ticket.severity}`) : "");
    row(fault, "form.vulnerability", ticket.vulnerability ? t(`vulnerability.${ticket.vulnerability}`) : "");
    row(fault, "portal.description", ticket.description);
  } else {
    row(resident, "portal.name", t("portal.no_ticket"));
  }
  if (order.priority) {
    const dt = document.createElement("dt");
    dt.textContent = t("priority.title");
    const dd = document.createElement("dd");
    dd.append(...priorityNodes(order.priority));
    fault.append(dt, dd);
  }
  const outcome = $("order-outcome");
  outcome.replaceChildren();
  row(outcome, "portal.station", state.stationName(order.station));
  row(outcome, "portal.dispatched", `${dateTime(order.dispatched_at)} · ${order.dispatched_by}`);
  if (order.round > 1) row(outcome, "portal.round", t("portal.round_n", { n: order.round }));
  row(outcome, "portal.repairman", order.repairman);
  const resultKey = { returned: "portal.result", refused: "portal.reason", recalled: "portal.recall_reason" };
  if (resultKey[order.status]) row(outcome, resultKey[order.status], order.result);
}

function renderDue(order) {
  const body = $("order-due");
  body.replaceChildren();
  const now = Date.now();
  const active = ACTIVE.includes(order.status);
  for (const s of STEPS) {
    const tr = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = t(`portal.step.${s.step}`);
    const due = document.createElement("td");
    const iso = order.due ? order.due[s.due] : null;
    due.textContent = shortTime(iso);
    const doneAt = stepDone(order, s);
    if (active && held(order, s)) {
      const span = document.createElement("span");
      span.className = "left paused";
      span.textContent = t("portal.held");
      due.append(" ", span);
    } else if (active && !doneAt && iso) {
      const left = timeLeft(iso, now);
      const span = document.createElement("span");
      span.className = left.overdue ? "left overdue" : "left";
      span.textContent = left.text;
      due.append(" ", span);
      tr.classList.toggle("overdue", left.overdue);
    }
    const done = document.createElement("td");
    done.textContent = doneAt ? localTime(doneAt) : active ? "—" : "";
    tr.append(name, due, done);
    body.append(tr);
  }
}

/** The translation of `key`, or `fallback` when the dictionary has none. */
function label(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

function historyLine(entry) {
  const li = document.createElement("li");
  const action = label(`portal.action.${entry.action}`, entry.action);
  const by = String(entry.by || "").startsWith("station:") ? t("portal.by_station") : entry.by;
  const parts = [`${localTime(entry.at)} ${action}`, by];
  if (entry.repairman) parts.push(t("portal.by_repairman", { name: entry.repairman }));
  if (entry.action === "paused" || entry.action === "resumed") parts.push(...pauseWords(entry));
  else {
    if (entry.note) parts.push(entry.note);
    if (entry.reason) parts.push(entry.reason);
  }
  if (entry.via) parts.push(entry.via);
  li.textContent = parts.filter(Boolean).join(" · ");
  return li;
}

function renderErrors() {
  for (const el of document.querySelectorAll("#order-panel .field-error")) {
    const key = el.id.slice(4); // err-<input or form id>
    const error = state.errors[key];
    el.hidden = !error;
    el.textContent = error ? errorText(error) : "";
    const input = $(key);
    if (input && input.matches("input, textarea")) {
      if (error) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }
}

function errorText(error) {
  return label(
    `portal_error.${error.code}`,
    t("error.generic", { message: error.message || error.code }),
  );
}

/** Date and time in the hotline's zone, always with the date: the printed sheet needs it. */
function dateTime(iso) {
  const when = iso ? new Date(iso) : null;
  if (!when || Number.isNaN(when.getTime())) return "";
  return new Intl.DateTimeFormat(language(), {
    timeZone: timeZoneName(),
    dateStyle: "short",
    timeStyle: "short",
    hourCycle: "h23",
  }).format(when);
}

/** Draw the open order (after a load, a step, a language change or the minute ticking). */
export function renderOrder() {
  const order = state.order;
  $("order-panel").hidden = !order;
  if (!order) return;
  $("order-title").textContent = t("portal.order_title", { id: shortId(order.id) });
  $("print-station").textContent = state.stationName(order.station);
  const status = $("order-status");
  status.textContent = t(`portal.status.${order.status}`);
  status.className = `order-status status-${order.status}`;
  $("order-message").hidden = !state.message;
  $("order-message").textContent = state.message ? t(state.message) : "";
  renderDetails(order);
  renderDue(order);
  $("accept").hidden = !OFFERS.accept.includes(order.status);
  $("contact-form").hidden = !OFFERS.contact.includes(order.status);
  $("return-form").hidden = !OFFERS.return.includes(order.status);
  $("refuse-box").hidden = !OFFERS.refuse.includes(order.status);
  renderPause(order);
  for (const button of document.querySelectorAll("#order-panel .actions button")) {
    if (button.id !== "print" && button.id !== "close-order") button.disabled = state.busy;
  }
  $("order-history").replaceChildren(...(order.history || []).map(historyLine));
  renderErrors();
}

// -- loading and acting ---------------------------------------------------------------------
function resetForms() {
  for (const id of ["contact-form", "return-form", "refuse-form", "pause-form"]) $(id).reset();
  $("refuse-box").open = false;
}

async function load(id) {
  const response = await api(`/api/orders/${encodeURIComponent(id)}`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** Open an order: its detail from the API, then the keyboard on its title. */
export async function openOrder(id, focus = true) {
  const other = currentId() !== id;
  let order;
  try {
    order = await load(id);
  } catch (err) {
    if (err instanceof SignedOut) return false;
    console.warn("opening the order failed", err);
    return false;
  }
  if (other) {
    resetForms();
    state.errors = {};
    state.message = null;
    $("contact-repairman").value = order.repairman || "";
    $("return-repairman").value = order.repairman || "";
  }
  state.order = order;
  renderOrder();
  if (focus) {
    $("order-title").focus();
    $("order-panel").scrollIntoView({ block: "start" });
  }
  return true;
}

/** A poll saw the open order change (another desk recorded a step): read it again. */
export async function reloadOrder() {
  if (!state.order || state.busy) return;
  try {
    state.order = await load(state.order.id);
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("reloading the order failed", err);
    return;
  }
  renderOrder();
}

export function closeOrder() {
  state.order = null;
  state.errors = {};
  state.message = null;
  renderOrder();
}

function text(id) {
  const value = $(id).value.trim();
  return value || undefined;
}

async function act(action, body) {
  if (!state.order || state.busy) return;
  const order = state.order;
  state.busy = true;
  state.errors = {};
  state.message = null;
  renderOrder();
  let response = null;
  let answer = {};
  try {
    response = await api(`/api/orders/${encodeURIComponent(order.id)}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    answer = await response.json().catch(() => ({}));
  } catch (err) {
    if (err instanceof SignedOut) return;
    answer = { error: "network" };
  }
  state.busy = false;
  if (response && response.ok) {
    if (action !== "accept") resetForms();
    state.message = `portal.ok.${action}`;
    state.order = answer;
    await reloadOrder(); // the history and the ticket come with the detail only
    renderOrder();
    const next = $(NEXT_FOCUS[action] || "order-title");
    (next && !next.closest("[hidden]") ? next : $("order-title")).focus();
    state.onChanged();
    return;
  }
  const code = answer.error || "http";
  const error = { code, message: answer.message || (response ? `HTTP ${response.status}` : "") };
  const input = (FIELD_INPUT[action] || {})[answer.field];
  state.errors[input || (action === "accept" ? "accept" : action)] = error;
  renderOrder();
  if (input) $(input).focus();
  if (code === "bad-transition") {
    await reloadOrder(); // someone else moved it on: show where it is now
    state.onChanged();
  }
}

function submitOnCtrlEnter(textarea) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      textarea.form.requestSubmit();
    }
  });
}

/** Wire the buttons and forms once; `onChanged` reloads the lists after a step. */
export function startOrder({ onChanged, stationName, onClose }) {
  state.onChanged = onChanged;
  state.stationName = stationName;
  $("accept").addEventListener("click", () => act("accept", {}));
  $("contact-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("contact", { repairman: text("contact-repairman") });
  });
  $("return-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("return", { result: text("return-result"), repairman: text("return-repairman") });
  });
  $("refuse-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("refuse", { reason: text("refuse-reason") });
  });
  startPause(act);
  submitOnCtrlEnter($("return-result"));
  submitOnCtrlEnter($("refuse-reason"));
  $("print").addEventListener("click", () => window.print());
  $("close-order").addEventListener("click", () => {
    const id = currentId();
    closeOrder();
    onClose(id);
  });
}
