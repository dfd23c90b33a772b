// The incident banner (片区故障) on the desk: when the ringing caller's known flat, or the
// address typed in the ticket form, lies inside a live incident, its area, cause, expected
// repair time and the reports and calls it has taken so far. For an open incident one key
// (F8, shown on its button) reports the call as part of it (POST /api/incidents/{id}/report)
// and shows the ticket; a proposal the department head has not confirmed is only a hint.

import { formatNumber, shortTime, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { reportedOnIncident } from "/static/desk-form.js";

// F1–F7 belong to the browser and IMEs (F5 reloads, F6 jumps to the address bar, F7 is caret
// browsing); F8 does nothing on a page, and the desk's own keys are Enter, Ctrl+Enter, Esc.
export const REPORT_KEY = "F8";
const LOOKUP_DELAY_MS = 300;
const MAX_KNOWN = 3; // the caller's flats looked up: the last address and open tickets'
const REPORTING_STATES = ["ringing", "answered", "ended"];

const $ = (id) => document.getElementById(id);

const banner = {
  live: new Map(), // id → incident with its counts (GET /api/incidents, `incidents` messages)
  pop: [], // incidents covering the caller's known flats
  typed: [], // incidents covering the address typed in the form
  call: null, // the popped call (desk.js's pop object, its state kept current there)
  seq: { pop: 0, typed: 0 },
  sending: false,
  result: null, // {key, vars, tone}: what the last report did, or why it failed
};

async function getJson(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** The live incidents with their counts: once at the start and after a reconnect. */
async function loadLive() {
  try {
    const found = await getJson("/api/incidents?status=proposed,open");
    banner.live = new Map(found.map((i) => [i.id, i]));
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("loading the incidents failed", err);
  }
  renderIncidents();
}

async function lookup(address) {
  const body = await getJson(`/api/incidents/lookup?address=${encodeURIComponent(address)}`);
  return body.incidents || [];
}

function unique(lists) {
  const seen = new Map();
  for (const i of lists.flat()) if (!seen.has(i.id)) seen.set(i.id, i);
  return [...seen.values()];
}

// -- the caller's known flats ------------------------------------------------------------
function knownAddresses(history) {
  if (!history) return [];
  const open = (history.open || []).map((ticket) => ticket.address_standard);
  return [...new Set([history.address, ...open].filter(Boolean))].slice(0, MAX_KNOWN);
}

async function checkPop() {
  const call = banner.call;
  const seq = ++banner.seq.pop;
  let found = [];
  if (call && call.history) {
    try {
      // The screen-pop says it; the caller's history by number does not: ask per flat.
      found = Array.isArray(call.history.incidents)
        ? call.history.incidents
        : unique(await Promise.all(knownAddresses(call.history).map(lookup)));
    } catch (err) {
      if (err instanceof SignedOut) return;
      console.warn("looking up the caller's incidents failed", err);
    }
  }
  if (seq !== banner.seq.pop) return; // another call popped meanwhile
  banner.pop = found;
  renderIncidents();
}

/** A call popped (its history not read yet): the last call's banner and result go. */
export function incidentsForCall(call) {
  banner.call = call;
  banner.pop = [];
  banner.result = null;
  banner.seq.pop += 1;
  renderIncidents();
}

/** The popped call's history arrived (the screen-pop's answer, or the number's history). */
export function incidentsForHistory(call) {
  if (banner.call === call) checkPop();
}

// -- the address typed in the form ---------------------------------------------------------
let typedTimer = null;

async function checkTyped() {
  const text = $("address").value.trim();
  const seq = ++banner.seq.typed;
  let found = [];
  if (text) {
    try {
      found = await lookup(text.slice(0, 200));
    } catch (err) {
      if (err instanceof SignedOut) return;
      console.warn("looking up the address's incidents failed", err);
    }
  }
  if (seq !== banner.seq.typed) return; // the agent typed on
  banner.typed = found;
  renderIncidents();
}

function typedSoon() {
  clearTimeout(typedTimer);
  typedTimer = setTimeout(checkTyped, LOOKUP_DELAY_MS);
}

// -- the live feed ---------------------------------------------------------------------------
/** An `incidents` message: every live incident with its counts; what changed, if anything. */
export function incidentsMessage(msg) {
  if (!Array.isArray(msg.incidents)) return;
  banner.live = new Map(msg.incidents.map((i) => [i.id, i]));
  const change = msg.change;
  if (change && ["closed", "dismissed"].includes(change.action)) {
    banner.pop = banner.pop.filter((i) => i.id !== change.id);
    banner.typed = banner.typed.filter((i) => i.id !== change.id);
  }
  if (change && ["opened", "proposed", "confirmed"].includes(change.action)) {
    checkPop(); // a new area (or a proposal's area confirmed anew) may cover this caller
    if ($("address").value.trim()) checkTyped();
  }
  renderIncidents();
}

/** After a reconnect: what opened or closed meanwhile. */
export function catchUpIncidents() {
  loadLive();
  checkPop();
  checkTyped();
}

// -- what shows ------------------------------------------------------------------------------
/** The incidents to show, fresh from the live list: open ones first, the caller's first. */
function shown() {
  const found = unique([banner.pop, banner.typed]).map((i) => ({
    ...i,
    ...(banner.live.get(i.id) || {}),
    why: banner.pop.some((p) => p.id === i.id) ? "pop" : "typed",
  }));
  return found
    .filter((i) => i.status === "open" || i.status === "proposed")
    .sort((a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function counts(i) {
  if (i.tickets === undefined) return null;
  return t("incident.taken", { tickets: formatNumber(i.tickets), calls: formatNumber(i.calls) });
}

function openItem(i, first) {
  const li = el("li", "incident incident-open");
  li.dataset.incident = i.id;
  const head = el("p", "incident-head");
  head.append(el("strong", "incident-term", t("incident.term")), " ", el("span", "incident-area", i.area_label));
  li.append(head);
  li.append(el("p", "incident-cause", t("incident.cause", { cause: i.cause })));
  const expected = i.expected_repair_at ? shortTime(i.expected_repair_at) : t("incident.expected_none");
  li.append(el("p", "incident-expected", t("incident.expected", { time: expected })));
  const taken = counts(i);
  if (taken) li.append(el("p", "incident-counts small", taken));
  li.append(el("p", "incident-why muted small", t(`incident.why.${i.why}`)));
  const button = el("button", first ? "primary incident-report" : "incident-report");
  button.type = "button";
  button.dataset.report = i.id;
  button.disabled = banner.sending;
  button.append(t(banner.sending && first ? "incident.reporting" : "incident.report"));
  if (first) {
    // The one key acts on the first open incident; the others are a click (or Tab, Enter).
    button.setAttribute("aria-keyshortcuts", REPORT_KEY);
    button.append(" ", el("kbd", "", REPORT_KEY));
  }
  li.append(button);
  return li;
}

function proposedItem(i) {
  const li = el("li", "incident incident-proposed");
  li.dataset.incident = i.id;
  const n = i.tickets === undefined ? "—" : formatNumber(i.tickets);
  li.append(el("p", "incident-hint", t("incident.proposed_hint", { count: n, area: i.area_label })));
  li.append(el("p", "incident-why muted small", t("incident.proposed_note")));
  return li;
}

export function renderIncidents() {
  const box = $("incident-banner");
  if (!box) return;
  const list = shown();
  const firstOpen = list.find((i) => i.status === "open");
  box.hidden = list.length === 0 && !banner.result;
  box.parentElement.classList.toggle("with-incident", !box.hidden);
  box.classList.toggle("incident-soft", !firstOpen);
  // Counts change every second in a flood: the button the agent tabbed to keeps the focus.
  const focused = document.activeElement?.closest?.("#incident-list button[data-report]");
  $("incident-list").replaceChildren(
    ...list.map((i) => (i.status === "open" ? openItem(i, i === firstOpen) : proposedItem(i))),
  );
  if (focused) {
    $("incident-list").querySelector(`button[data-report="${CSS.escape(focused.dataset.report)}"]`)?.focus();
  }
  const result = $("incident-result");
  result.hidden = !banner.result;
  result.className = `incident-result${banner.result ? ` tone-${banner.result.tone}` : ""}`;
  result.textContent = banner.result ? t(banner.result.key, banner.result.vars) : "";
}

// -- the one key ----------------------------------------------------------------------------
function reportBody(incident) {
  const body = {};
  const call = banner.call;
  if (call && REPORTING_STATES.includes(call.state)) body.call = call.callId;
  const put = (key, id) => {
    const text = $(id).value.trim();
    if (text) body[key] = text;
  };
  put("phone", "phone");
  put("address", "address");
  put("reporter_name", "reporter_name");
  const chosen = document.querySelector('input[name="category"]:checked');
  if (chosen && (incident.categories || []).includes(chosen.value)) body.category = chosen.value;
  return body;
}

/** Why a report was refused, in the agent's words where the desk knows the case. */
function failure(answer, status) {
  const vars = { key: REPORT_KEY, message: answer.message || answer.error || `HTTP ${status}` };
  if (answer.error === "outside-incident") return { key: "incident.error.outside", vars };
  if (answer.error === "incident-closed") return { key: "incident.error.closed", vars };
  if (answer.error === "missing-field" && ["address", "phone"].includes(answer.field)) {
    return { key: `incident.error.${answer.field}`, vars };
  }
  return { key: "incident.error.other", vars };
}

async function report(id) {
  const incident = shown().find((i) => i.id === id && i.status === "open");
  if (!incident || banner.sending) return;
  banner.sending = true;
  banner.result = null;
  renderIncidents();
  let response = null;
  let answer = {};
  try {
    response = await api(`/api/incidents/${encodeURIComponent(id)}/report`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(reportBody(incident)),
    });
    answer = await response.json().catch(() => ({}));
  } catch (err) {
    if (err instanceof SignedOut) return;
    response = null;
  }
  banner.sending = false;
  if (response === null) {
    banner.result = { key: "incident.error.network", vars: {}, tone: "bad" };
  } else if (!response.ok || !answer.ticket) {
    banner.result = { ...failure(answer, response.status), tone: "bad" };
  } else {
    const vars = { id: answer.ticket.id };
    banner.result = answer.created
      ? { key: "incident.created", vars, tone: "ok" }
      : { key: "incident.added", vars, tone: "ok" };
    reportedOnIncident(answer.ticket, answer.created); // the ticket shows: this call is done
  }
  renderIncidents();
}

function onKeydown(event) {
  if (event.key !== REPORT_KEY || event.isComposing || event.repeat) return;
  const first = shown().find((i) => i.status === "open");
  if (!first) return;
  event.preventDefault();
  report(first.id);
}

export function startIncidents() {
  $("address").addEventListener("input", typedSoon);
  // "Use address" and a new ticket set the field without typing: looked at again too.
  $("ticket-form").addEventListener("reset", () => setTimeout(checkTyped, 0));
  $("pop-use-address").addEventListener("click", () => setTimeout(checkTyped, 0));
  $("incident-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-report]");
    if (button) report(button.dataset.report);
  });
  document.addEventListener("keydown", onKeydown);
  loadLive();
}
