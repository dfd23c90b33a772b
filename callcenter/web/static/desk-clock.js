// The ticket view's one clock (一单一钟): every step from the first ring of the ticket's call to
// the callback, with its time, its deadline and whether it was met (✓ on time, late by …,
// pending, paused while the station waits on the resident), round by round, and the
// station's pauses with their reasons. Read from GET /api/tickets/{id}/clock whenever the
// ticket view opens or refreshes its ticket.

import { localTime, onLanguageChange, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";

const $ = (id) => document.getElementById(id);

const view = { ticketId: null, clock: null, status: "idle", seq: 0, started: false, station: (c) => c };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "5 s", "12 min", "1 h 5 min", "2 d 3 h": how long, in the page's language. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return t("clock.dur.s", { s });
  const m = Math.round(s / 60);
  if (m < 60) return t("clock.dur.m", { m });
  const h = Math.floor(m / 60);
  if (h < 48) return t("clock.dur.hm", { h, m: m % 60 });
  return t("clock.dur.dh", { d: Math.floor(h / 24), h: h % 24 });
}

/** The ticket view opened `ticketId` (null: back to the form); `stationName` names codes. */
export function clockFor(ticketId, stationName) {
  if (stationName) view.station = stationName;
  if (!view.started) {
    view.started = true;
    onLanguageChange(render);
  }
  if (ticketId !== view.ticketId) {
    view.ticketId = ticketId;
    view.clock = null;
  }
  if (ticketId) load();
  else render();
}

async function load() {
  const id = view.ticketId;
  const seq = ++view.seq;
  if (!view.clock) view.status = "loading";
  render();
  try {
    const response = await api(`/api/tickets/${encodeURIComponent(id)}/clock`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const clock = await response.json();
    if (seq !== view.seq) return;
    view.clock = clock;
    view.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the ticket's clock failed", err);
    if (seq !== view.seq) return;
    view.status = "error";
  }
  render();
}

function verdict(step) {
  if (step.paused) return { text: t("clock.paused"), tone: "tone-warn" };
  if (step.met === true) return { text: t("clock.met"), tone: "tone-ok" };
  if (step.met === false) {
    const time = duration(step.late_seconds);
    return step.at
      ? { text: t("clock.late", { time }), tone: "tone-bad" }
      : { text: t("clock.overdue", { time }), tone: "tone-bad" };
  }
  if (!step.at && step.deadline) return { text: t("clock.pending"), tone: "muted" };
  return { text: "", tone: "" };
}

function stepRow(step) {
  const tr = el("tr");
  const name = el("th", "", t(`clock.step.${step.step}`));
  name.scope = "row";
  const at = el("td");
  if (step.at) {
    const time = el("time", "", localTime(step.at));
    time.dateTime = step.at;
    at.append(time);
  } else at.textContent = "—";
  const deadline = el("td", "", step.deadline ? localTime(step.deadline) : "—");
  const v = verdict(step);
  tr.append(name, at, deadline, el("td", v.tone, v.text));
  return tr;
}

function pauseText(p) {
  const reason = t(`pause.reason.${p.reason}`);
  const vars = { from: localTime(p.started_at), time: duration(p.seconds), reason };
  const line = p.ended_at
    ? t("clock.pause", { ...vars, to: localTime(p.ended_at) })
    : t("clock.pause_open", vars);
  return p.note ? `${line} · “${p.note}”` : line;
}

function roundRows(round) {
  const head = el("tr", "clock-round");
  const cell = el("th", "", t("clock.round", { n: round.round, station: view.station(round.station) }));
  cell.colSpan = 4;
  cell.scope = "rowgroup";
  cell.append(" · ", t(`portal.status.${round.status}`));
  // A household's report linked to an incident is repaired by the incident's one order.
  if (view.clock && view.clock.incident_id) cell.append(" · ", t("clock.incident_order"));
  head.append(cell);
  const rows = [head, ...round.steps.map(stepRow)];
  for (const p of round.pauses) {
    const tr = el("tr", "clock-pause");
    const td = el("td", "small", pauseText(p));
    td.colSpan = 4;
    tr.append(td);
    rows.push(tr);
  }
  return rows;
}

function render() {
  const body = $("saved-clock");
  if (!body) return;
  const status = $("saved-clock-status");
  const clock = view.clock;
  if (!clock || clock.ticket_id !== view.ticketId) {
    body.replaceChildren();
    status.textContent =
      view.status === "error" ? t("clock.load_error") : view.ticketId ? t("clock.loading") : "";
    return;
  }
  body.replaceChildren(...clock.steps.map(stepRow), ...clock.rounds.flatMap(roundRows));
  status.textContent = clock.call_id ? "" : t("clock.no_call");
}
