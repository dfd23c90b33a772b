// The live page's incidents panel (片区故障): the open incidents and the service's proposals
// with their area, cause, expected repair and the reports and calls each has taken, read on
// connect (GET /api/incidents) and replaced by every `incidents` message. The department head
// confirms or dismisses a proposal and closes an incident here; the leads open one (the forms
// are live-incident-forms.js).

import { formatNumber, shortTime, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import {
  actionForm,
  focusFirst,
  HEADS,
  OPENERS,
  startOpenForm,
} from "/static/live-incident-forms.js";
import { $, el, state } from "/static/live-state.js";

const panel = {
  rows: new Map(), // id → incident with its counts (tickets, calls)
  status: "loading", // loading | ok | forbidden | error
  stations: new Map(), // code → name
  acting: null, // {id, action}: the form open on an incident
  done: null, // {key, vars}: what the last action did
};

function role() {
  return state.me ? state.me.role : null;
}

async function loadStations() {
  try {
    const response = await api("/api/stations");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    for (const s of await response.json()) panel.stations.set(s.code, s.name);
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("loading the stations failed", err);
  }
}

export function stationName(code) {
  return panel.stations.get(code) || code;
}

function stationList() {
  return [...panel.stations.entries()].map(([code, name]) => ({ code, name }));
}

/** The live incidents with their counts: on connect and after a reconnect. */
export async function loadIncidents() {
  if (panel.status === "forbidden") return;
  try {
    const response = await api("/api/incidents?status=proposed,open");
    if (response.status === 403) {
      panel.status = "forbidden"; // not a role that reads incidents
    } else if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    } else {
      useList(await response.json());
      panel.status = "ok";
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the incidents failed", err);
    panel.status = "error";
  }
  renderIncidents();
}

function useList(list) {
  panel.rows = new Map(list.map((i) => [i.id, i]));
  if (panel.acting && !panel.rows.has(panel.acting.id)) panel.acting = null; // closed meanwhile
}

/** An `incidents` message: every live incident with its counts, after a change or as tickets
 * join. */
export function incidentsMessage(msg) {
  if (panel.status === "forbidden" || !Array.isArray(msg.incidents)) return;
  useList(msg.incidents);
  panel.status = "ok";
  renderIncidents();
}

/** One changed by this page (the API's answer): shown at once, before its live message. */
export function incidentChanged(incident, doneKey) {
  if (incident.status === "open" || incident.status === "proposed") {
    panel.rows.set(incident.id, incident);
  } else {
    panel.rows.delete(incident.id);
  }
  panel.acting = null;
  panel.done = { key: doneKey, vars: { area: incident.area_label } };
  renderIncidents();
}

export async function startIncidents() {
  const list = $("incident-list");
  list.addEventListener("click", onClick);
  startOpenForm({
    onOpened: (incident) => incidentChanged(incident, "incidents.done.opened"),
    stations: stationList,
  });
  await loadStations();
  await loadIncidents();
}

// -- drawing ------------------------------------------------------------------------------
function sorted() {
  return [...panel.rows.values()].sort(
    (a, b) =>
      (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) ||
      Date.parse(a.created_at) - Date.parse(b.created_at),
  );
}

function actionButton(i, action) {
  const button = el("button", "small-button", t(`incidents.${action}`));
  button.type = "button";
  button.dataset.act = action;
  button.dataset.id = i.id;
  return button;
}

function actions(i) {
  if (!HEADS.includes(role())) return null;
  const box = el("div", "incident-actions");
  if (i.status === "proposed") box.append(actionButton(i, "confirm"), actionButton(i, "dismiss"));
  else box.append(actionButton(i, "close"));
  return box;
}

function item(i) {
  const li = el("li", `incident incident-${i.status}`);
  li.dataset.incident = i.id;
  const head = el("p", "incident-head");
  const term = i.status === "open" ? t("incidents.status.open") : t("incidents.status.proposed");
  head.append(el("span", "badge incident-badge", term), " ", el("strong", "incident-area", i.area_label));
  li.append(head);
  li.append(el("p", "incident-cause", t("incident.cause", { cause: i.cause })));
  const expected = i.expected_repair_at ? shortTime(i.expected_repair_at) : t("incident.expected_none");
  li.append(el("p", "incident-expected", t("incident.expected", { time: expected })));
  const since = i.status === "open" ? i.opened_at || i.started_at : i.created_at;
  li.append(
    el(
      "p",
      "muted small",
      t("incidents.where", { station: stationName(i.station), time: shortTime(since) }),
    ),
  );
  const counts = { tickets: formatNumber(i.tickets || 0), calls: formatNumber(i.calls || 0) };
  li.append(el("p", "incident-counts", t("incident.taken", counts)));
  const buttons = actions(i);
  if (buttons) li.append(buttons);
  return li;
}

export function renderIncidents() {
  const box = $("incidents-panel");
  if (!box) return;
  box.hidden = panel.status === "forbidden";
  if (box.hidden) return;
  const rows = sorted();
  const open = rows.filter((i) => i.status === "open").length;
  $("incidents-count").textContent = formatNumber(rows.length);
  $("incidents-count").classList.toggle("active", open > 0);
  // Redrawing would lose what the head is typing: the open form moves to the new item.
  const list = $("incident-list");
  const form = panel.acting ? list.querySelector("form.incident-form") : null;
  const typing = form && form.contains(document.activeElement) ? document.activeElement : null;
  // Counts change as tickets join: the button the head tabbed to keeps the focus.
  const focused = document.activeElement?.closest?.("#incident-list button[data-act]");
  list.replaceChildren(
    ...rows.map((i) => {
      const li = item(i);
      if (panel.acting && panel.acting.id === i.id) {
        const buttons = li.querySelector(".incident-actions");
        const same = form && form.dataset.id === i.id && form.dataset.action === panel.acting.action;
        const keep = same ? form : null;
        li.replaceChild(keep || actionForm(i, panel.acting.action, formDone), buttons);
      }
      return li;
    }),
  );
  if (typing) typing.focus();
  if (focused) {
    const { act, id } = focused.dataset;
    list.querySelector(`button[data-act="${act}"][data-id="${CSS.escape(id)}"]`)?.focus();
  }
  const status = $("incidents-status");
  let note = "";
  if (panel.status === "error") note = t("incidents.error");
  else if (panel.status === "ok" && rows.length === 0) note = t("incidents.empty");
  status.hidden = !note;
  status.textContent = note;
  const done = $("incidents-done");
  done.hidden = !panel.done;
  done.textContent = panel.done ? t(panel.done.key, panel.done.vars) : "";
  $("incident-open-button").hidden = !OPENERS.includes(role());
}

// -- the head's actions ---------------------------------------------------------------------
function formDone(result) {
  const id = panel.acting ? panel.acting.id : null;
  if (result === null) {
    panel.acting = null; // cancelled: back to its buttons
    renderIncidents();
    $("incident-list").querySelector(`button[data-id="${CSS.escape(id)}"]`)?.focus();
    return;
  }
  incidentChanged(result.incident, result.doneKey);
  // The keyboard stays on the incident it acted on, or on the panel when it left the list.
  const li = $("incident-list").querySelector(`li[data-incident="${CSS.escape(id)}"]`);
  const target = li || $("incidents-title");
  target.tabIndex = -1;
  target.focus();
}

function onClick(event) {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  panel.acting = { id: button.dataset.id, action: button.dataset.act };
  panel.done = null;
  renderIncidents();
  focusFirst($("incident-list").querySelector("form.incident-form"));
}
