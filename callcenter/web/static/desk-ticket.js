// The ticket view: the ticket the form just saved, or one opened from the recent tickets;
// its summary, its recordings with a player and its timeline, kept current while it shows
// (the recording comes once the call ends; a live message brings a change), and its
// anomalies (desk-anomalies.js) and its one clock (desk-clock.js); beneath each player its
// transcript (transcript-view.js).
// Also how a ticket looks in a list, for the screen-pop and the recent tickets.

import { localTime, t } from "/static/i18n.js";
import { anomaliesFor } from "/static/desk-anomalies.js";
import { clockFor } from "/static/desk-clock.js";
import { api, SignedOut } from "/static/desk-api.js";
import { priorityNodes } from "/static/priority.js";
import { loadTranscript } from "/static/transcript-view.js";

const $ = (id) => document.getElementById(id);
const RECORDING_POLL_MS = 3000;
const RECORDING_POLL_MAX = 60; // three minutes after the call ends
// A transcript is made minutes after the recording (a minute of audio at a time, below
// call handling): while it is queued or being made, the view asks again this often.
const TRANSCRIPT_POLL_MS = 30000;

const view = {
  ticket: null, // the ticket as the API answered
  justSaved: false, // from the form now, not opened from a list: the title says "saved"
  stations: [],
  ended: new Set(), // call ids closed while the page watched
  polls: 0,
};
let pollTimer = null;
const watchers = []; // told when the view opens or closes a ticket

/** `fn()` after the view opens a ticket or goes back to the form. */
export function onShownChange(fn) {
  watchers.push(fn);
}

/** The address book's stations, to name a ticket's station (the form loads them). */
export function setStations(stations) {
  view.stations = stations;
}

export function stationName(code) {
  const station = view.stations.find((s) => s.code === code);
  return station ? station.name : code;
}

/** The id of the ticket the view shows, or null when the form shows. */
export function shownTicket() {
  return view.ticket ? view.ticket.id : null;
}

function show(ticket, justSaved) {
  clearTimeout(pollTimer);
  if (!view.ticket || view.ticket.id !== ticket.id) $("saved-recordings").replaceChildren();
  view.ticket = ticket;
  view.justSaved = justSaved;
  view.polls = 0;
  $("ticket-panel").hidden = true;
  $("saved").hidden = false;
  renderTicket();
  anomaliesFor(ticket.id);
  clockFor(ticket.id, stationName);
  $("saved-title").focus();
  watchRecordings();
  for (const fn of watchers) fn();
}

/** The ticket the form has just saved (the API's answer). */
export function showSaved(ticket) {
  show(ticket, true);
}

/** A ticket opened from a list (or `justSaved` elsewhere: the incident's one key): fetched
 * first, so the API's role rules apply. False when it could not be. */
export async function openTicket(id, justSaved = false) {
  try {
    const response = await api(`/api/tickets/${encodeURIComponent(id)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    show(await response.json(), justSaved);
    return true;
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("opening the ticket failed", err);
    return false;
  }
}

/** Back to the form: the view lets its ticket go. */
export function closeTicket() {
  clearTimeout(pollTimer);
  view.ticket = null;
  $("saved").hidden = true;
  $("ticket-panel").hidden = false;
  $("saved-recordings").replaceChildren();
  anomaliesFor(null);
  clockFor(null);
  for (const fn of watchers) fn();
}

function watchRecordings() {
  clearTimeout(pollTimer);
  const ticket = view.ticket;
  if (!ticket || (ticket.recordings || []).length) return;
  const ended = (ticket.calls || []).some((c) => c.ended_at || view.ended.has(c.id));
  if (!ended || view.polls >= RECORDING_POLL_MAX) return;
  pollTimer = setTimeout(async () => {
    view.polls += 1;
    await reloadShown();
    watchRecordings();
  }, RECORDING_POLL_MS);
}

async function reloadShown() {
  const ticket = view.ticket;
  if (!ticket) return;
  try {
    const response = await api(`/api/tickets/${encodeURIComponent(ticket.id)}`);
    if (!response.ok) return;
    const fresh = await response.json();
    if (view.ticket && view.ticket.id === fresh.id) {
      view.ticket = fresh;
      renderTicket();
      clockFor(fresh.id); // an order moved, a call ended: the clock's steps too
    }
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("reloading the ticket failed", err);
  }
}

/** The ticket changed (a live `ticket` or `order` message): fetched again if it shows. */
export function ticketChanged(id) {
  if (shownTicket() === id) reloadShown().then(watchRecordings);
}

/** A call closed (call_closed on the live feed): its recording comes next. */
export function callEnded(callId) {
  view.ended.add(callId);
  const ticket = view.ticket;
  if (ticket && (ticket.calls || []).some((c) => c.id === callId)) {
    reloadShown().then(watchRecordings);
  }
}

function row(dl, key, text) {
  if (!text) return;
  const dt = document.createElement("dt");
  dt.textContent = t(key);
  const dd = document.createElement("dd");
  dd.textContent = text;
  dl.append(dt, dd);
}

/** A summary row holding nodes (the priority's badge and reasons) rather than text. */
function nodeRow(dl, key, nodes) {
  const dt = document.createElement("dt");
  dt.textContent = t(key);
  const dd = document.createElement("dd");
  dd.append(...nodes);
  dl.append(dt, dd);
}

function eventText(e) {
  const action = t(`timeline.${e.action}`);
  const parts = [action === `timeline.${e.action}` ? e.action : action];
  if (e.status) parts.push(t(`status.${e.status}`));
  if (e.changes && typeof e.changes === "object") parts.push(Object.keys(e.changes).join(", "));
  if (e.call) parts.push(String(e.call));
  if (e.note) parts.push(`“${e.note}”`);
  return parts.join(" · ");
}

function agentText(ticket) {
  if (!ticket.agent) return "";
  return ticket.agent_work_number ? `${ticket.agent} (${ticket.agent_work_number})` : ticket.agent;
}

export function renderTicket() {
  const ticket = view.ticket;
  if (!ticket) return;
  $("saved-title").textContent = t(view.justSaved ? "saved.title" : "saved.opened", { id: ticket.id });
  $("saved-title").tabIndex = -1;
  const dl = $("saved-summary");
  dl.replaceChildren();
  row(dl, "form.kind", t(`ticket_kind.${ticket.kind}`));
  row(dl, "saved.status", t(`status.${ticket.status}`));
  if (ticket.category) row(dl, "form.category", t(`category.${ticket.category}`));
  if (ticket.vulnerability) row(dl, "form.vulnerability", t(`vulnerability.${ticket.vulnerability}`));
  // A repair still waiting: where it stands in its station's list, and why.
  if (ticket.priority) nodeRow(dl, "priority.title", priorityNodes(ticket.priority));
  row(dl, "form.address", ticket.address_standard || ticket.address);
  row(dl, "form.station", ticket.station ? stationName(ticket.station) : t("station.none"));
  row(dl, "form.name", ticket.reporter_name);
  row(dl, "form.phone", ticket.phone);
  row(dl, "saved.agent", agentText(ticket));
  const flags = $("saved-flags");
  const list = ticket.flags || [];
  flags.hidden = !list.length;
  flags.textContent = list.map((f) => t(`flag.${f}`)).join(" ");

  const recs = ticket.recordings || [];
  const calls = ticket.calls || [];
  const status = $("saved-recordings-status");
  if (recs.length) status.textContent = "";
  else if (!calls.length) status.textContent = t("saved.no_call");
  else if (calls.some((c) => c.ended_at || view.ended.has(c.id))) status.textContent = t("saved.recording_waiting");
  else status.textContent = t("saved.recording_after_call");
  const list2 = $("saved-recordings");
  const shown = new Set([...list2.querySelectorAll("li")].map((li) => li.dataset.id));
  if (recs.length !== shown.size || recs.some((r) => !shown.has(r.id))) {
    // Redrawn only when the set changes: a player keeps its position while the rest updates.
    list2.replaceChildren(...recs.map(recordingItem));
    for (const li of list2.children) showTranscript(li);
  }
  const timeline = $("saved-timeline");
  timeline.replaceChildren(
    ...(ticket.timeline || []).map((e) => {
      const li = document.createElement("li");
      const time = document.createElement("time");
      time.dateTime = e.at;
      time.textContent = localTime(e.at);
      const who = document.createElement("span");
      who.className = "muted";
      who.textContent = e.work_number ? `${e.by} (${e.work_number})` : e.by || "";
      const what = document.createElement("span");
      what.textContent = eventText(e);
      li.append(time, " ", what, " ", who);
      return li;
    }),
  );
}

function recordingItem(r) {
  const li = document.createElement("li");
  li.dataset.id = r.id;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.src = `/api/recordings/${encodeURIComponent(r.id)}/audio`;
  audio.setAttribute("aria-label", t("saved.recording"));
  const meta = document.createElement("span");
  meta.className = "muted small";
  const seconds = Number(r.duration_seconds ?? r.duration ?? 0);
  meta.textContent = seconds ? t("saved.duration", { seconds: Math.round(seconds) }) : "";
  const transcript = document.createElement("div");
  transcript.className = "recording-transcript";
  li.append(audio, meta, transcript);
  return li;
}

/** The transcript beneath a recording's player; nothing for one the user may not read. */
function showTranscript(li) {
  const recording = (view.ticket.recordings || []).find((r) => r.id === li.dataset.id);
  if (!recording || recording.deleted) return;
  const box = li.querySelector(".recording-transcript");
  loadTranscript(box, recording.id, li.querySelector("audio"), {
    fetcher: api,
    pollMs: TRANSCRIPT_POLL_MS,
  }).catch((err) => {
    if (!(err instanceof SignedOut)) console.warn("loading the transcript failed", err);
  });
}

/** A ticket in a list: when, what, its state; where (and, for a lead, who took it). */
export function ticketSummary(ticket, withAgent = false) {
  const when = document.createElement("time");
  when.dateTime = ticket.created_at;
  when.textContent = localTime(ticket.created_at);
  const what = document.createElement("span");
  const category = ticket.category ? ` · ${t(`category.${ticket.category}`)}` : "";
  what.textContent = `${t(`ticket_kind.${ticket.kind}`)}${category}`;
  const state = document.createElement("span");
  state.className = "ticket-status";
  state.textContent = t(`status.${ticket.status}`);
  const where = document.createElement("span");
  where.className = "muted small ticket-where";
  where.textContent = [
    ticket.address_standard || ticket.address,
    ticket.station ? stationName(ticket.station) : "",
    withAgent && ticket.agent ? t("recent.taken_by", { agent: agentText(ticket) }) : "",
  ]
    .filter(Boolean)
    .join(" · ");
  return [when, " ", what, " ", state, where];
}

/** One earlier ticket in the screen-pop. */
export function ticketItem(ticket) {
  const li = document.createElement("li");
  li.className = `ticket-item status-${ticket.status}`;
  li.append(...ticketSummary(ticket));
  return li;
}
