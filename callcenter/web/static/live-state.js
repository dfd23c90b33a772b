// The live page's shared state and the small DOM helpers every panel draws with, no I/O.
// Data from the server (callers' numbers, agents' names, PBX answers) only goes in textContent.

import { t } from "/static/i18n.js";

export const MAX_VIOLATIONS = 50;

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
  // The line probe's view of the hotline (live-line.js); null: no probe in this service.
  line: null,
};

export const $ = (id) => document.getElementById(id);

export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Mark a cell for the narrow (phone) layout: its grid area, and the column name it shows
 * in front of the value there, where the table head is hidden. */
export function labelled(td, area, labelKey) {
  td.classList.add(area);
  if (labelKey) td.dataset.label = t(labelKey);
  return td;
}

export function agentCell(name) {
  return name ? cell(name) : cell(t("agent.none"), "muted");
}

export function callerCell(caller) {
  return caller ? cell(caller, "mono") : cell(t("caller.none"), "muted");
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}


/** Only a real change: the status is a live region, redrawn after every health check. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
