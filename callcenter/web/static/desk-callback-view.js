// The callback view (回访): one due callback in the form's place, the script as prompts, the
// ticket with its orders' results, and the answers a–f; or "not convenient, call at …" and
// "no answer". Saved through POST /api/callbacks/{id}; an API error shows beside its field.

import { onLanguageChange, shortTime, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { onShownChange, stationName } from "/static/desk-ticket.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["solved", "attitude", "charged", "score", "suggestions", "fee_reminded", "call_at"];

const view = {
  callback: null, // as GET /api/callbacks answered
  ticket: null,
  orders: [],
  status: "loading", // the ticket's: loading | ok | unavailable
  errors: {}, // field → {code, message}
  formError: null,
  saving: false,
  onDone: null, // told {result, focus} when the view closes (result: what was recorded)
  restore: null, // which of the form and the ticket view to show again on closing
};

/** The id of the callback the view shows, or null. */
export function shownCallback() {
  return view.callback ? view.callback.id : null;
}

// -- opening and closing ---------------------------------------------------------------------
/** Show `callback` in the form's place; `onDone({result, focus})` when it closes: `result`
 * says what was recorded ({key, vars} for t(); null: nothing), `focus` whether the list
 * should take the focus. */
export function openCallback(callback, onDone) {
  if (!view.callback) {
    view.restore = { form: !$("ticket-panel").hidden, ticket: !$("saved").hidden };
  }
  view.callback = callback;
  view.onDone = onDone;
  view.ticket = null;
  view.orders = [];
  view.status = "loading";
  view.errors = {};
  view.formError = null;
  $("callback-form").reset();
  $("callback-later").reset();
  $("ticket-panel").hidden = true;
  $("saved").hidden = true;
  $("callback-view").hidden = false;
  renderCallbackView();
  $("callback-view-title").focus();
  loadTicket(callback);
}

/** Back to what showed before (the form, or the ticket view). */
export function closeCallback(restore = true) {
  if (!view.callback) return;
  view.callback = null;
  $("callback-view").hidden = true;
  if (restore && view.restore) {
    $("ticket-panel").hidden = !view.restore.form;
    $("saved").hidden = !view.restore.ticket;
  }
}

async function fetchJson(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function loadTicket(callback) {
  const id = encodeURIComponent(callback.ticket_id);
  try {
    const [ticket, orders] = await Promise.all([
      fetchJson(`/api/tickets/${id}`),
      fetchJson(`/api/orders?ticket=${id}`),
    ]);
    if (view.callback !== callback) return; // another one opened meanwhile
    view.ticket = ticket;
    view.orders = orders;
    view.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut || view.callback !== callback) return;
    console.warn("loading the callback's ticket failed", err);
    view.status = "unavailable";
  }
  renderCallbackView();
}

// -- drawing -----------------------------------------------------------------------------------
function row(dl, key, text) {
  if (!text) return;
  const dt = document.createElement("dt");
  dt.textContent = t(key);
  const dd = document.createElement("dd");
  dd.textContent = text;
  dl.append(dt, dd);
}

function faultText(ticket) {
  return [
    ticket.category ? t(`category.${ticket.category}`) : "",
    ticket.fault_location,
    ticket.description,
  ]
    .filter(Boolean)
    .join(" · ");
}

function orderItem(order) {
  const li = document.createElement("li");
  li.className = "ticket-item";
  const head = document.createElement("span");
  head.textContent = [
    t("callback.round", { round: order.round }),
    stationName(order.station),
    t(`portal.status.${order.status}`),
    order.returned_at ? shortTime(order.returned_at) : "",
    order.repairman || "",
  ]
    .filter(Boolean)
    .join(" · ");
  li.append(head);
  if (order.result) {
    const result = document.createElement("span");
    result.className = "ticket-where";
    result.textContent = `“${order.result}”`;
    li.append(result);
  }
  return li;
}

export function dueText(callback) {
  const parts = [t("callback.due", { time: shortTime(callback.due_at) })];
  if (callback.booked_for) parts.unshift(t("callback.booked", { time: shortTime(callback.booked_for) }));
  if (callback.attempts) parts.push(t("callback.attempts", { count: callback.attempts }));
  return parts.join(" · ");
}

function errorText(name, error) {
  // A missing or wrong answer is named by its field; the rest by the API's code.
  const key = error.code === "bad-field" ? `callback_error.${name}` : `callback_error.${error.code}`;
  const text = t(key, { message: error.message || error.code });
  return text === key ? error.message || error.code : text;
}

function renderErrors() {
  for (const name of FIELDS) {
    const box = $(`cb-err-${name}`);
    const error = view.errors[name];
    box.hidden = !error;
    box.textContent = error ? errorText(name, error) : "";
    const input = $(`cb-${name}`);
    if (input) input.toggleAttribute("aria-invalid", Boolean(error));
  }
  const box = $("cb-err-form");
  box.hidden = !view.formError;
  box.textContent = view.formError ? errorText("", view.formError) : "";
}

function choice(name) {
  const checked = document.querySelector(`input[name="cb-${name}"]:checked`);
  return checked ? checked.value : null;
}

function renderFee() {
  // f) is read only to a satisfied resident (004); hidden, it is not sent as reminded.
  $("cb-fee").hidden = choice("attitude") !== "satisfied";
}

export function renderCallbackView() {
  const callback = view.callback;
  if (!callback) return;
  $("callback-view-title").textContent = t("callback.view_title", { id: callback.ticket_id });
  $("callback-view-due").textContent =
    `${t(`callback.reason.${callback.reason}`)} · ${dueText(callback)}`;
  $("callback-view-status").textContent =
    view.status === "ok" ? "" : t(`callback.ticket_${view.status}`);
  const dl = $("callback-ticket");
  dl.replaceChildren();
  const ticket = view.ticket;
  if (ticket) {
    row(dl, "callback.resident", ticket.reporter_name);
    row(dl, "form.phone", ticket.phone);
    row(dl, "form.address", ticket.address_standard || ticket.address);
    row(dl, "form.station", ticket.station ? stationName(ticket.station) : "");
    row(dl, "callback.fault", faultText(ticket));
  }
  const orders = $("callback-orders");
  orders.replaceChildren(...view.orders.map(orderItem));
  if (view.status === "ok" && !view.orders.length) {
    const li = document.createElement("li");
    li.className = "muted small";
    li.textContent = t("callback.no_orders");
    orders.append(li);
  }
  renderFee();
  renderErrors();
  $("cb-call_at").min = localInputValue(new Date());
  $("cb-save").textContent = t(view.saving ? "callback.saving" : "callback.save");
}

// -- saving ------------------------------------------------------------------------------------
function pad(n) {
  return String(n).padStart(2, "0");
}

function localInputValue(when) {
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:${pad(when.getMinutes())}`;
}

/** A datetime-local value ("2026-12-05T10:00", the browser's wall clock) as ISO 8601 with
 * the browser's offset at that moment, which the API requires. "" when empty or invalid. */
export function withOffset(local) {
  const when = new Date(local); // a date-time with no offset is read in the browser's zone
  if (!local || Number.isNaN(when.getTime())) return "";
  const minutes = -when.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  const seconds = local.length === 16 ? `${local}:00` : local;
  return `${seconds}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function yesNo(name) {
  const value = choice(name);
  return value === null ? null : value === "yes";
}

function answers() {
  const score = $("cb-score").value.trim();
  const attitude = choice("attitude");
  return {
    outcome: "answered",
    solved: yesNo("solved"),
    attitude,
    charged: yesNo("charged"),
    score: /^\d+$/.test(score) ? Number(score) : null, // null: the API names the field
    suggestions: $("cb-suggestions").value.trim(),
    fee_reminded: attitude === "satisfied" && $("cb-fee_reminded").checked,
  };
}

function focusField(name) {
  const target = document.querySelector(`input[name="cb-${name}"]:checked`) ||
    document.querySelector(`input[name="cb-${name}"]`) || $(`cb-${name}`);
  if (target) target.focus();
}

async function post(body) {
  const callback = view.callback;
  if (!callback || view.saving) return;
  view.saving = true;
  view.errors = {};
  view.formError = null;
  renderCallbackView();
  let response;
  let answer;
  try {
    response = await api(`/api/callbacks/${encodeURIComponent(callback.id)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    answer = await response.json().catch(() => ({})); // a proxy's error page
  } catch (err) {
    if (err instanceof SignedOut) return;
    answer = null;
  }
  view.saving = false;
  if (view.callback !== callback) return;
  if (answer === null || !response.ok) {
    const error = answer === null
      ? { code: "network" }
      : { code: answer.error || "unavailable", message: answer.message || `HTTP ${response.status}` };
    if (answer && FIELDS.includes(answer.field)) {
      view.errors[answer.field] = error;
      renderCallbackView();
      focusField(answer.field);
    } else {
      view.formError = error;
      renderCallbackView();
    }
    return;
  }
  const result = await recorded(body.outcome, callback, answer);
  const onDone = view.onDone;
  closeCallback();
  if (onDone) onDone({ result, focus: true });
}

/** What became of the ticket: closed, back at its station as rework, or called again; as
 * {key, vars}, so the note follows a change of language. */
async function recorded(outcome, before, after) {
  const id = before.ticket_id;
  const say = (key, vars = {}) => ({ key: `callback.result.${key}`, vars: { id, ...vars } });
  if (outcome === "rebooked") return say("rebooked", { time: shortTime(after.booked_for) });
  if (outcome === "no_answer") return say("no_answer", { count: after.attempts });
  const rounds = view.orders.map((o) => o.round);
  try {
    const [ticket, orders] = await Promise.all([
      fetchJson(`/api/tickets/${encodeURIComponent(id)}`),
      fetchJson(`/api/orders?ticket=${encodeURIComponent(id)}`),
    ]);
    if (ticket.status === "closed") return say("closed");
    const rework = orders.find((o) => o.round > Math.max(0, ...rounds));
    if (rework) return say("rework", { round: rework.round, station: stationName(rework.station) });
    return say("again");
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("reading the ticket after the callback failed", err);
    return say("done");
  }
}

function save(event) {
  if (event) event.preventDefault();
  post(answers());
}

function rebook(event) {
  if (event) event.preventDefault();
  post({ outcome: "rebooked", call_at: withOffset($("cb-call_at").value) });
}

/** Enter saves (Ctrl+Enter in the suggestions); not while an IME is choosing characters. */
function enterTo(action) {
  return (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    const target = event.target;
    if (target.tagName === "BUTTON") return;
    if (target.tagName === "TEXTAREA" && !(event.ctrlKey || event.metaKey)) return;
    action(event);
  };
}

function back() {
  const onDone = view.onDone;
  closeCallback();
  if (onDone) onDone({ result: null, focus: true });
}

export function startCallbackView() {
  const form = $("callback-form");
  form.addEventListener("submit", save);
  form.addEventListener("keydown", enterTo(save));
  form.addEventListener("change", (event) => {
    if (event.target.name === "cb-attitude") renderFee();
    const name = (event.target.name || event.target.id || "").replace(/^cb-/, "");
    if (view.errors[name]) {
      delete view.errors[name];
      renderErrors();
    }
  });
  const later = $("callback-later");
  later.addEventListener("submit", rebook);
  later.addEventListener("keydown", enterTo(rebook));
  $("cb-no-answer").addEventListener("click", () => post({ outcome: "no_answer" }));
  $("cb-back").addEventListener("click", back);
  $("callback-view").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.isComposing) back();
  });
  onLanguageChange(renderCallbackView);
  // A ticket opened from a list, or the form called back: the callback gives way.
  onShownChange(() => {
    if (!view.callback) return;
    const onDone = view.onDone;
    closeCallback(false);
    if (onDone) onDone({ result: null, focus: false });
  });
}
