// The desk's callbacks due (待回访): the signed-in agent's own (首问责任制; the leads see all),
// the soonest first, each with its ticket's address and station and the time it is due or
// the resident asked for; overdue ones marked. Fetched again when the live feed says a
// callback was recorded, an order returned or a complaint taken; each opens in the view.

import { t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { dueText, openCallback, shownCallback, startCallbackView } from "/static/desk-callback-view.js";
import { stationName } from "/static/desk-ticket.js";

const $ = (id) => document.getElementById(id);
// The return of an order is told on the live feed before its callback is booked (the
// handlers' order in app/handlers.py): the fetch waits a little, which also makes a burst
// one fetch.
const REFRESH_DELAY_MS = 700;
const OVERDUE_TICK_MS = 30000; // an item turns overdue while the page is open
// The due list is one page (never paged on): all of it for the count, the soonest shown;
// each shown one costs a fetch of its ticket (a lead sees every agent's).
const MOST = 1000;
const SHOWN = 50;
const LEADS = ["team_lead", "qa_lead", "supervisor", "admin"];
const CALLBACK_USERS = ["agent", ...LEADS];

const panel = {
  me: null,
  callbacks: null, // null until the first answer
  status: "loading", // loading | ok | unavailable
  tickets: new Map(), // ticket id → the ticket (its address); one that failed is asked again
  result: null, // what the last recorded callback did to its ticket: {key, vars}
  openFailed: false,
  lateDrawn: 0, // how many were drawn overdue
  opened: null, // the id of the callback last opened in the view
};
let refreshTimer = null;
let loadSeq = 0;

function everyone() {
  return Boolean(panel.me && LEADS.includes(panel.me.role));
}

/** When to call: the time the resident asked for, else when it is due. */
function callTime(callback) {
  return Date.parse(callback.booked_for || callback.due_at);
}

function overdue(callback) {
  return Boolean(callback.overdue) || Date.parse(callback.due_at) < Date.now();
}

async function loadTickets(callbacks) {
  const missing = [...new Set(callbacks.map((c) => c.ticket_id))].filter((id) => !panel.tickets.has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        const response = await api(`/api/tickets/${encodeURIComponent(id)}`);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        panel.tickets.set(id, await response.json());
      } catch (err) {
        if (err instanceof SignedOut) throw err;
        console.warn("loading a callback's ticket failed: listed without its address", err);
      }
    }),
  );
}

async function load() {
  if (!panel.me) return;
  const seq = ++loadSeq;
  try {
    const response = await api(`/api/callbacks?status=due&limit=${MOST}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // Soonest first by the time to call: a re-booked one when the resident asked for.
    const callbacks = (await response.json())
      .map((c, i) => [c, i])
      .sort(([a, i], [b, j]) => callTime(a) - callTime(b) || i - j)
      .map(([c]) => c);
    await loadTickets(callbacks.slice(0, SHOWN));
    if (seq !== loadSeq) return; // a later fetch is under way
    panel.callbacks = callbacks;
    panel.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut || seq !== loadSeq) return;
    console.warn("loading the callbacks failed", err);
    panel.status = "unavailable";
  }
  renderCallbacks();
}

function refreshSoon() {
  if (refreshTimer !== null) return; // the fetch already planned comes after this change
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    load();
  }, REFRESH_DELAY_MS);
}

function listed(ticketId) {
  return (panel.callbacks || []).some((c) => c.ticket_id === ticketId);
}

/** A live message: a callback recorded, an order returned (a callback booked) or sent again
 * (its callback cancelled), a complaint taken (called back too), a listed ticket changed. */
export function callbackMessage(msg) {
  if (msg.type === "callback") {
    refreshSoon();
  } else if (msg.type === "order") {
    if (msg.action === "return" || listed(msg.ticket_id)) refreshSoon();
  } else if (msg.type === "ticket") {
    if (listed(msg.ticket_id)) panel.tickets.delete(msg.ticket_id); // its address may change
    if (listed(msg.ticket_id) || (msg.action === "taken" && msg.kind === "complaint")) refreshSoon();
  }
}

/** The live feed is back after a break: what happened meanwhile. */
export function catchUpCallbacks() {
  refreshSoon();
}

function item(callback) {
  const li = document.createElement("li");
  li.className = "ticket-item callback-item";
  const late = overdue(callback);
  li.classList.toggle("overdue", late);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ticket-open callback-open";
  button.dataset.id = callback.id;
  if (shownCallback() === callback.id) button.setAttribute("aria-current", "true");
  const when = document.createElement("span");
  when.className = "callback-when";
  when.textContent = dueText(callback);
  const what = document.createElement("span");
  what.className = "ticket-status";
  what.textContent = t(`callback.reason.${callback.reason}`);
  button.append(when, " ", what);
  if (late) {
    const flag = document.createElement("strong");
    flag.className = "callback-late";
    flag.textContent = t("callback.overdue");
    button.append(" ", flag);
  }
  const ticket = panel.tickets.get(callback.ticket_id);
  const where = document.createElement("span");
  where.className = "muted small ticket-where";
  where.textContent = [
    ticket ? ticket.address_standard || ticket.address : "",
    callback.station ? stationName(callback.station) : "",
    ticket ? ticket.reporter_name : "",
    everyone() && ticket && ticket.agent ? t("callback.agent", { agent: ticket.agent }) : "",
  ]
    .filter(Boolean)
    .join(" · ") || callback.ticket_id;
  button.append(where);
  li.append(button);
  return li;
}

export function renderCallbacks() {
  const box = $("callbacks");
  box.hidden = !(panel.me && CALLBACK_USERS.includes(panel.me.role));
  if (box.hidden) return;
  const callbacks = panel.callbacks || [];
  $("callbacks-title").textContent = panel.callbacks
    ? t("callback.title_count", { count: callbacks.length })
    : t("callback.title");
  $("callbacks-hint").textContent = t(everyone() ? "callback.hint_all" : "callback.hint_mine");
  $("callbacks-result").textContent = panel.result ? t(panel.result.key, panel.result.vars) : "";
  const status = $("callbacks-status");
  if (panel.openFailed) status.textContent = t("callback.open_failed");
  else if (panel.status !== "ok") status.textContent = t(`callback.${panel.status}`);
  else if (!callbacks.length) status.textContent = t("callback.none");
  else if (callbacks.length > SHOWN) status.textContent = t("callback.more", { count: callbacks.length - SHOWN });
  else status.textContent = "";
  const list = $("callbacks-list");
  // Redrawn whole; the focus stays on the callback it was on, for a keyboard user mid-list.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  list.replaceChildren(...callbacks.slice(0, SHOWN).map(item));
  panel.lateDrawn = callbacks.filter(overdue).length;
  if (focused) {
    const again = [...list.querySelectorAll("button")].find((b) => b.dataset.id === focused);
    (again || list.querySelector("button") || $("callbacks-title")).focus();
  }
}

/** The view closed: say what was recorded and (by the keyboard) on to the soonest one left;
 * closed unrecorded, back to the one it showed. */
async function closed({ result, focus }) {
  if (result) {
    panel.result = result;
    await load(); // the recorded one leaves the list before the focus moves
  }
  renderCallbacks();
  if (!focus) return;
  const buttons = [...$("callbacks-list").querySelectorAll("button")];
  const same = result ? null : buttons.find((b) => b.dataset.id === panel.opened);
  (same || buttons[0] || $("callbacks-title")).focus();
}

async function open(event) {
  const button = event.target.closest("button.callback-open");
  if (!button) return;
  panel.result = null;
  panel.openFailed = false;
  // Fetched first: a callback recorded meanwhile (by a lead) is not opened.
  try {
    const response = await api(`/api/callbacks/${encodeURIComponent(button.dataset.id)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const callback = await response.json();
    if (callback.status !== "due") throw new Error(`callback ${callback.status}`);
    panel.opened = callback.id;
    openCallback(callback, closed);
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("opening the callback failed", err);
    panel.openFailed = true;
    refreshSoon();
  }
  renderCallbacks();
}

/** Start with who is signed in (/api/me): whose callbacks to list. */
export function startCallbacks(me) {
  panel.me = me;
  startCallbackView();
  $("callbacks-list").addEventListener("click", open);
  setInterval(() => {
    const late = (panel.callbacks || []).filter(overdue).length;
    if (late !== panel.lateDrawn) renderCallbacks();
  }, OVERDUE_TICK_MS);
  renderCallbacks();
  load();
}
