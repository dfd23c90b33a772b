// The desk's recent tickets (最近工单): for an agent the tickets she took, whose follow-up is
// hers (首问责任制); for the leads every agent's. Newest first, fetched again when the live
// feed says a ticket was taken or changed; each one opens in the ticket view.

import { t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import {
  onShownChange,
  openTicket,
  shownTicket,
  ticketChanged,
  ticketSummary,
} from "/static/desk-ticket.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 20;
// A burst of messages (the demo's agents, a lead's round of changes) is one fetch.
const REFRESH_DELAY_MS = 500;
const LEADS = ["team_lead", "qa_lead", "supervisor", "admin"];
const TICKET_USERS = ["agent", ...LEADS];

const recent = {
  me: null,
  tickets: null, // null until the first answer
  status: "loading", // loading | ok | unavailable
  openFailed: false,
  fresh: new Set(), // ids that arrived since the last drawing: shown highlighted once
};
let refreshTimer = null;
let loadSeq = 0;

function everyone() {
  return Boolean(recent.me && LEADS.includes(recent.me.role));
}

async function load() {
  const me = recent.me;
  if (!me) return;
  const seq = ++loadSeq;
  const mine = everyone() ? "" : `agent=${encodeURIComponent(me.name)}&`;
  try {
    const response = await api(`/api/tickets?${mine}limit=${LIMIT}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const tickets = await response.json();
    if (seq !== loadSeq) return; // a later fetch is under way
    if (recent.tickets) {
      const known = new Set(recent.tickets.map((x) => x.id));
      for (const x of tickets) if (!known.has(x.id)) recent.fresh.add(x.id);
    }
    recent.tickets = tickets;
    recent.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut || seq !== loadSeq) return;
    console.warn("loading the recent tickets failed", err);
    recent.status = "unavailable";
  }
  renderRecent();
}

function refreshSoon() {
  if (refreshTimer !== null) return; // the fetch already planned comes after this change
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    load();
  }, REFRESH_DELAY_MS);
}

/** A live `ticket` or `order` message: the list and the open ticket fetched again. An agent
 * is sent only her own tickets' messages, but every order's. */
export function ticketTouched(msg) {
  if (typeof msg.ticket_id !== "string") return;
  ticketChanged(msg.ticket_id);
  const listed = (recent.tickets || []).some((x) => x.id === msg.ticket_id);
  if (everyone() || msg.type === "ticket" || listed) refreshSoon();
}

/** The live feed is back after a break: what happened meanwhile. */
export function catchUpRecent() {
  refreshSoon();
}

function item(ticket) {
  const li = document.createElement("li");
  li.className = `ticket-item status-${ticket.status}`;
  if (recent.fresh.has(ticket.id)) li.classList.add("fresh");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ticket-open";
  button.dataset.id = ticket.id;
  if (shownTicket() === ticket.id) button.setAttribute("aria-current", "true");
  button.append(...ticketSummary(ticket, everyone()));
  li.append(button);
  return li;
}

export function renderRecent() {
  const panel = $("recent");
  panel.hidden = !(recent.me && TICKET_USERS.includes(recent.me.role));
  if (panel.hidden) return;
  $("recent-hint").textContent = t(everyone() ? "recent.hint_all" : "recent.hint_mine");
  const status = $("recent-status");
  const tickets = recent.tickets || [];
  if (recent.openFailed) status.textContent = t("recent.open_failed");
  else if (recent.status !== "ok") status.textContent = t(`recent.${recent.status}`);
  else status.textContent = tickets.length ? "" : t("recent.none");
  const list = $("recent-list");
  // Redrawn whole; the focus stays on the ticket it was on, for a keyboard user mid-list.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  list.replaceChildren(...tickets.map(item));
  recent.fresh.clear();
  if (focused) {
    const again = [...list.querySelectorAll("button")].find((b) => b.dataset.id === focused);
    (again || list.querySelector("button") || $("recent-title")).focus();
  }
}

async function open(event) {
  const button = event.target.closest("button.ticket-open");
  if (!button) return;
  recent.openFailed = !(await openTicket(button.dataset.id));
  if (recent.openFailed) renderRecent();
}

/** Start with who is signed in (/api/me): whose tickets to list. */
export function startRecent(me) {
  recent.me = me;
  $("recent-title").tabIndex = -1; // where the focus goes when its ticket leaves the list
  $("recent-list").addEventListener("click", open);
  onShownChange(() => {
    recent.openFailed = false;
    renderRecent();
  });
  renderRecent();
  load();
}
