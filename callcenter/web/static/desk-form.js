// The desk's ticket form, keyboard-first, in the intake script's order: the problem (kind,
// fault category, location, severity, text), the address (put in standard form as it is
// typed, its station proposed), the name, the phone. Enter (Ctrl+Enter in the text) saves;
// an error from the API is shown beside the field it names. After saving: the ticket, its
// timeline and, once its call has ended, its recording with a player.

import { localTime, t, translatePage } from "/static/i18n.js";

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

const $ = (id) => document.getElementById(id);
const KINDS = ["repair", "consultation", "complaint", "praise", "suggestion"];
const CATEGORIES = ["not_hot", "ice_cold", "temperature_check", "leak", "other"];
const SEVERITIES = ["minor", "major", "urgent"];
const FIELDS = [
  "kind", "category", "fault_location", "severity", "description",
  "address", "station", "reporter_name", "phone",
];
const NORMALIZE_DELAY_MS = 250;
const RECORDING_POLL_MS = 3000;
const RECORDING_POLL_MAX = 60; // three minutes after the call ends

const form = {
  stations: [],
  stationsFailed: false,
  check: null, // the last /api/address/normalize answer for the address field's text
  checkStatus: "idle", // idle | checking | ok | error
  stationTouched: false,
  errors: {}, // field → {code, message}
  formError: null,
  saving: false,
  pop: null,
  saved: null, // the ticket as the API answered
  callIds: new Set(),
  ended: new Set(), // call ids closed while the page watched
  polls: 0,
};

// -- the choices: radio chips, each group one Tab stop, arrows to move --------------------
function chips(group, name, values, prefix = name) {
  const box = $(group);
  for (const value of values) {
    const label = document.createElement("label");
    label.className = "chip";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = name;
    input.value = value;
    input.id = `${name}-${value}`;
    const span = document.createElement("span");
    span.dataset.i18n = `${prefix}.${value}`;
    label.append(input, span);
    box.append(label);
  }
}

function choice(name) {
  const checked = document.querySelector(`input[name="${name}"]:checked`);
  return checked ? checked.value : null;
}

function value(id) {
  return $(id).value.trim();
}

// -- the address: standard form and station as the agent types ------------------------------
let checkTimer = null;
let checkSeq = 0;

async function checkAddress() {
  const text = value("address");
  const seq = ++checkSeq;
  if (!text) {
    form.check = null;
    form.checkStatus = "idle";
    renderAddress();
    return;
  }
  form.checkStatus = "checking";
  try {
    const response = await api(`/api/address/normalize?q=${encodeURIComponent(text)}`);
    if (seq !== checkSeq) return;
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    form.check = await response.json();
    form.checkStatus = "ok";
    if (!form.stationTouched) $("station").value = form.check.station ? form.check.station.code : "";
  } catch (err) {
    if (err instanceof SignedOut || seq !== checkSeq) return;
    console.warn("checking the address failed", err);
    form.check = null;
    form.checkStatus = "error";
  }
  renderAddress();
}

function stationName(code) {
  const station = form.stations.find((s) => s.code === code);
  return station ? station.name : code;
}

function renderAddress() {
  const box = $("address-check");
  const c = form.check;
  box.className = "address-check";
  if (form.checkStatus === "idle") box.textContent = "";
  else if (form.checkStatus === "checking") box.textContent = t("address.checking");
  else if (form.checkStatus === "error") box.textContent = t("address.error");
  else if (c.status === "matched") {
    box.textContent = t("address.matched", { standard: c.standard, station: c.station.name });
    box.classList.add("ok");
  } else if (c.status === "ambiguous") {
    const names = c.candidates.map((s) => s.name).join(" / ");
    box.textContent = t("address.ambiguous", { standard: c.standard, stations: names });
    box.classList.add("flag");
  } else {
    box.textContent = t("address.unmatched", { standard: c.standard || value("address") });
    box.classList.add("flag");
  }
  const warning = $("station-warning");
  const chosen = $("station").value;
  const proposed = form.checkStatus === "ok" && c.station ? c.station.code : null;
  warning.hidden = !(proposed && chosen !== proposed);
  warning.textContent = warning.hidden
    ? ""
    : t("station.other", { chosen: chosen ? stationName(chosen) : t("station.none"), proposed: c.station.name });
}

function renderStations() {
  const select = $("station");
  const chosen = select.value;
  const none = document.createElement("option");
  none.value = "";
  none.textContent = t(form.stationsFailed ? "station.unavailable" : "station.none");
  select.replaceChildren(
    none,
    ...form.stations.map((s) => {
      const option = document.createElement("option");
      option.value = s.code;
      option.textContent = s.name;
      return option;
    }),
  );
  select.value = chosen;
}

// -- errors beside their fields -------------------------------------------------------------
function errorText(error) {
  const key = `ticket_error.${error.code}`;
  const text = t(key, { message: error.message || error.code });
  return text === key ? error.message || error.code : text;
}

function renderErrors() {
  for (const name of FIELDS) {
    const box = $(`err-${name}`);
    const error = form.errors[name];
    box.hidden = !error;
    box.textContent = error ? errorText(error) : "";
    const input = $(name) || $(`${name}-group`);
    if (input) input.toggleAttribute("aria-invalid", Boolean(error));
  }
  const box = $("form-error");
  box.hidden = !form.formError;
  box.textContent = form.formError ? errorText(form.formError) : "";
}

function focusField(name) {
  const target = $(name) || document.querySelector(`input[name="${name}"]:checked`) ||
    document.querySelector(`input[name="${name}"]`);
  if (target) target.focus();
}

// -- saving -----------------------------------------------------------------------------------
function body() {
  const out = { kind: choice("kind") || "repair" };
  const put = (key, text) => {
    if (text) out[key] = text;
  };
  put("category", choice("category"));
  put("severity", choice("severity"));
  put("fault_location", value("fault_location"));
  put("description", value("description"));
  put("address", value("address"));
  // Untouched: the address book's proposal, decided by the server on the text sent.
  if (form.stationTouched) put("station", $("station").value);
  put("reporter_name", value("reporter_name"));
  put("phone", value("phone"));
  return out;
}

async function save(event) {
  if (event) event.preventDefault();
  if (form.saving) return;
  form.saving = true;
  form.errors = {};
  form.formError = null;
  renderErrors();
  $("save").disabled = true;
  $("save").textContent = t("form.saving");
  let response;
  let answer = {};
  try {
    response = await api("/api/tickets", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body()),
    });
    try {
      answer = await response.json();
    } catch {
      answer = {}; // a proxy's error page
    }
  } catch (err) {
    if (err instanceof SignedOut) return;
    answer = null;
  }
  form.saving = false;
  $("save").disabled = false;
  $("save").textContent = t("form.save");
  if (answer === null) {
    form.formError = { code: "network" };
  } else if (response.status === 404 && !answer.error) {
    form.formError = { code: "tickets-unavailable" };
  } else if (!response.ok) {
    const error = { code: answer.error || "http", message: answer.message || `HTTP ${response.status}` };
    if (answer.field && FIELDS.includes(answer.field)) {
      form.errors[answer.field] = error;
      renderErrors();
      focusField(answer.field);
      return;
    }
    form.formError = error;
  } else {
    showSaved(answer);
    return;
  }
  renderErrors();
}

function onKeydown(event) {
  if (event.key !== "Enter" || event.isComposing) return; // an IME choosing characters
  const target = event.target;
  if (target.tagName === "BUTTON") return;
  if (target.tagName === "TEXTAREA" && !(event.ctrlKey || event.metaKey)) return;
  save(event);
}

// -- the ticket once saved: summary, timeline, recordings --------------------------------------
let pollTimer = null;

function showSaved(ticket) {
  form.saved = ticket;
  form.polls = 0;
  $("ticket-panel").hidden = true;
  $("saved").hidden = false;
  renderSaved();
  $("saved-title").focus();
  watchRecordings();
}

function watchRecordings() {
  clearTimeout(pollTimer);
  const ticket = form.saved;
  if (!ticket || (ticket.recordings || []).length) return;
  const ended = (ticket.calls || []).some((c) => c.ended_at || form.ended.has(c.id));
  if (!ended || form.polls >= RECORDING_POLL_MAX) return;
  pollTimer = setTimeout(async () => {
    form.polls += 1;
    await reloadSaved();
    watchRecordings();
  }, RECORDING_POLL_MS);
}

async function reloadSaved() {
  const ticket = form.saved;
  if (!ticket) return;
  try {
    const response = await api(`/api/tickets/${encodeURIComponent(ticket.id)}`);
    if (!response.ok) return;
    const fresh = await response.json();
    if (form.saved && form.saved.id === fresh.id) {
      form.saved = fresh;
      renderSaved();
    }
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("reloading the ticket failed", err);
  }
}

/** A call closed (call_closed on the live feed): its recording comes next. */
export function callEnded(callId) {
  form.ended.add(callId);
  const ticket = form.saved;
  if (ticket && (ticket.calls || []).some((c) => c.id === callId)) {
    reloadSaved().then(watchRecordings);
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

function eventText(e) {
  const action = t(`timeline.${e.action}`);
  const parts = [action === `timeline.${e.action}` ? e.action : action];
  if (e.status) parts.push(t(`status.${e.status}`));
  if (e.changes && typeof e.changes === "object") parts.push(Object.keys(e.changes).join(", "));
  if (e.call) parts.push(String(e.call));
  if (e.note) parts.push(`“${e.note}”`);
  return parts.join(" · ");
}

function renderSaved() {
  const ticket = form.saved;
  if (!ticket) return;
  $("saved-title").textContent = t("saved.title", { id: ticket.id });
  $("saved-title").tabIndex = -1;
  const dl = $("saved-summary");
  dl.replaceChildren();
  row(dl, "form.kind", t(`ticket_kind.${ticket.kind}`));
  row(dl, "saved.status", t(`status.${ticket.status}`));
  if (ticket.category) row(dl, "form.category", t(`category.${ticket.category}`));
  row(dl, "form.address", ticket.address_standard || ticket.address);
  row(dl, "form.station", ticket.station ? stationName(ticket.station) : t("station.none"));
  row(dl, "form.name", ticket.reporter_name);
  row(dl, "form.phone", ticket.phone);
  const flags = $("saved-flags");
  const list = ticket.flags || [];
  flags.hidden = !list.length;
  flags.textContent = list.map((f) => t(`flag.${f}`)).join(" ");

  const recs = ticket.recordings || [];
  const calls = ticket.calls || [];
  const status = $("saved-recordings-status");
  if (recs.length) status.textContent = "";
  else if (!calls.length) status.textContent = t("saved.no_call");
  else if (calls.some((c) => c.ended_at || form.ended.has(c.id))) status.textContent = t("saved.recording_waiting");
  else status.textContent = t("saved.recording_after_call");
  const list2 = $("saved-recordings");
  const shown = new Set([...list2.querySelectorAll("li")].map((li) => li.dataset.id));
  if (recs.length !== shown.size || recs.some((r) => !shown.has(r.id))) {
    // Redrawn only when the set changes: a player keeps its position while the rest updates.
    list2.replaceChildren(...recs.map(recordingItem));
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
  li.append(audio, meta);
  return li;
}

/** One earlier ticket in the screen-pop: when, what, where, its state. */
export function ticketItem(ticket) {
  const li = document.createElement("li");
  li.className = `ticket-item status-${ticket.status}`;
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
  where.textContent = [ticket.address_standard || ticket.address, ticket.station ? stationName(ticket.station) : ""]
    .filter(Boolean)
    .join(" · ");
  li.append(when, " ", what, " ", state, where);
  return li;
}

// -- the caller of the ringing call ---------------------------------------------------------
/** The popped caller: the number goes into the phone field when it is empty (read it back). */
export function useCaller(pop) {
  form.pop = pop;
  const phone = $("phone");
  const digits = (pop.caller || "").replace(/[^0-9]/g, "");
  if (!phone.value && digits.length >= 7 && !/[*]/.test(pop.caller || "")) phone.value = pop.caller;
}

function useLastAddress() {
  const pop = form.pop;
  if (!pop || !pop.history || !pop.history.address) return;
  $("address").value = pop.history.address;
  checkAddress();
  $("address").focus();
}

function resetForm() {
  clearTimeout(pollTimer);
  $("ticket-form").reset();
  $("kind-repair").checked = true;
  form.saved = null;
  form.check = null;
  form.checkStatus = "idle";
  form.stationTouched = false;
  form.errors = {};
  form.formError = null;
  $("saved").hidden = true;
  $("ticket-panel").hidden = false;
  $("saved-recordings").replaceChildren();
  // The caller still on the line (a second report on the same call): their number again.
  if (form.pop && ["ringing", "answered"].includes(form.pop.state)) useCaller(form.pop);
  renderForm();
  $("kind-repair").focus();
}

function renderKind() {
  // Fault category, location and severity are a repair's (the daily report counts them).
  const repair = choice("kind") === "repair";
  $("category-field").hidden = !repair;
}

export function renderForm() {
  renderStations();
  renderAddress();
  renderErrors();
  renderKind();
  renderSaved();
  if (!form.saving) $("save").textContent = t("form.save");
}

export async function startForm() {
  chips("kind-group", "kind", KINDS, "ticket_kind");
  chips("category-group", "category", CATEGORIES);
  chips("severity-group", "severity", SEVERITIES);
  $("kind-repair").checked = true;
  translatePage($("ticket-form"));
  try {
    const response = await api("/api/stations");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    form.stations = await response.json();
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the stations failed", err);
    form.stationsFailed = true;
  }
  const f = $("ticket-form");
  f.addEventListener("submit", save);
  f.addEventListener("keydown", onKeydown);
  f.addEventListener("change", (event) => {
    if (event.target.name === "kind") renderKind();
    if (event.target.id === "station") {
      form.stationTouched = true;
      renderAddress();
    }
  });
  $("address").addEventListener("input", () => {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkAddress, NORMALIZE_DELAY_MS);
  });
  for (const name of FIELDS) {
    const input = $(name);
    if (input) {
      input.addEventListener("input", () => {
        if (form.errors[name]) {
          delete form.errors[name];
          renderErrors();
        }
      });
    }
  }
  $("pop-use-address").addEventListener("click", useLastAddress);
  $("new-ticket").addEventListener("click", resetForm);
}
