// The station portal's reading of an order: its deadlines and the time left to each, and
// the few words a list line needs; and the API call every request goes through.

import { t } from "/static/i18n.js";

export class SignedOut extends Error {}

/** fetch with the session cookie; a 401 means the session is over: back to the login page. */
export async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) {
    window.location.replace("/login");
    throw new SignedOut();
  }
  return response;
}

const MINUTE_MS = 60000;

// The steps a deadline watches, with the times that count as done (contacting implies the
// acceptance, returning both: orders/model.py step_done).
export const STEPS = [
  { step: "accept", due: "accept", done: ["accepted_at", "contacted_at", "returned_at"] },
  { step: "contact", due: "contact", done: ["contacted_at", "returned_at"] },
  { step: "repair", due: "repair", done: ["returned_at"] },
];
export const ACTIVE = ["sent", "accepted", "contacted"];

export function shortId(id) {
  return String(id || "").slice(0, 8);
}

export function stepDone(order, step) {
  for (const key of step.done) if (order[key]) return order[key];
  return null;
}

// A wait on the resident holds the contact and repair deadlines (orders/model.py PAUSABLE).
const PAUSABLE = ["contact", "repair"];

/** An open pause holds this step's deadline: it began before the deadline, the step is to do. */
export function held(order, step) {
  if (!order.paused_since || !PAUSABLE.includes(step.step) || stepDone(order, step)) return false;
  const due = order.due ? Date.parse(order.due[step.due]) : NaN;
  return due > Date.parse(order.paused_since);
}

/** The deadlines still running on an active order, earliest first. */
export function pendingSteps(order) {
  if (!ACTIVE.includes(order.status)) return [];
  return STEPS.filter((s) => !stepDone(order, s) && !held(order, s) && order.due && order.due[s.due])
    .map((s) => ({ step: s.step, due: order.due[s.due] }))
    .sort((a, b) => Date.parse(a.due) - Date.parse(b.due));
}

function duration(ms) {
  const minutes = Math.max(1, Math.ceil(Math.abs(ms) / MINUTE_MS));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? t("portal.hm", { h, m }) : t("portal.m", { m });
}

/** "12 min left" or "1 h 5 min overdue" from now to `iso`. */
export function timeLeft(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return { text: "", overdue: false };
  const overdue = ms < 0;
  return { text: t(overdue ? "portal.overdue" : "portal.left", { time: duration(ms) }), overdue };
}

export function categoryText(ticket) {
  if (!ticket) return "";
  const parts = [];
  if (ticket.category) parts.push(t(`category.${ticket.category}`));
  if (ticket.severity) parts.push(t(`severity.${ticket.severity}`));
  return parts.join(" · ");
}

export function addressOf(ticket) {
  return ticket ? ticket.address_standard || ticket.address || "" : "";
}
