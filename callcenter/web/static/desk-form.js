// The desk's ticket form, keyboard-first, in the intake script's order: the problem (kind,
// fault category, location, severity, text), the address (put in standard form as it is
// typed, its station proposed), the name, the phone; last, for a repair, a vulnerable
// household (its priority rises), and above the form the outdoor temperature the priorities
// count (desk-outdoor.js). Enter (Ctrl+Enter in the text) saves;
// an error from the API is shown beside the field it names. After saving, the ticket view
// (desk-ticket.js) shows the ticket; "New ticket" comes back to the form.

import { t, translatePage } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import {
  closeTicket,
  openTicket,
  renderTicket,
  setStations,
  showSaved,
  stationName,
} from "/static/desk-ticket.js";
import { renderOutdoor, startOutdoor } from "/static/desk-outdoor.js";
import { VULNERABILITIES } from "/static/priority.js";

const $ = (id) => document.getElementById(id);
const KINDS = ["repair", "consultation", "complaint", "praise", "suggestion"];
const CATEGORIES = ["not_hot", "ice_cold", "temperature_check", "leak", "other"];
const SEVERITIES = ["minor", "major", "urgent"];
const FIELDS = [
  "kind", "category", "fault_location", "severity", "vulnerability", "description",
  "address", "station", "reporter_name", "phone",
];
const NORMALIZE_DELAY_MS = 250;

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
  saved: false, // what the form holds is saved: "New ticket" empties it
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
  put("vulnerability", $("vulnerability").value);
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
    form.saved = true;
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

/** The one key reported the call on an incident (desk-incident.js): its ticket shows (with
 * its calls and timeline, which the report's answer has not), as saved when it is new, and
 * "New ticket" empties the form for the next call. */
export function reportedOnIncident(ticket, created) {
  form.saved = true;
  openTicket(ticket.id, created);
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
  $("ticket-form").reset();
  $("kind-repair").checked = true;
  form.saved = false;
  form.check = null;
  form.checkStatus = "idle";
  form.stationTouched = false;
  form.errors = {};
  form.formError = null;
  closeTicket();
  // The caller still on the line (a second report on the same call): their number again.
  if (form.pop && ["ringing", "answered"].includes(form.pop.state)) useCaller(form.pop);
  renderForm();
  $("kind-repair").focus();
}

/** From the ticket view: an empty form once the last ticket is saved; else the form as it
 * was, since a ticket opened from the list must not cost the agent the one she is typing. */
function newTicket() {
  if (form.saved) {
    resetForm();
    return;
  }
  closeTicket();
  document.querySelector('#kind-group input[type="radio"]:checked')?.focus();
}

function renderKind() {
  // Fault category, location and severity are a repair's (the daily report counts them).
  const repair = choice("kind") === "repair";
  $("category-field").hidden = !repair;
  // A vulnerable household moves a repair up the station's list (priority by the cold).
  $("vulnerability-field").hidden = !repair;
}

function renderVulnerabilities() {
  const select = $("vulnerability");
  const chosen = select.value;
  select.replaceChildren(
    ...["", ...VULNERABILITIES].map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = t(`vulnerability.${value || "none"}`);
      return option;
    }),
  );
  select.value = chosen;
}

export function renderForm() {
  renderStations();
  renderVulnerabilities();
  renderOutdoor();
  renderAddress();
  renderErrors();
  renderKind();
  renderTicket();
  if (!form.saving) $("save").textContent = t("form.save");
}

export async function startForm() {
  chips("kind-group", "kind", KINDS, "ticket_kind");
  chips("category-group", "category", CATEGORIES);
  chips("severity-group", "severity", SEVERITIES);
  renderVulnerabilities();
  $("kind-repair").checked = true;
  startOutdoor();
  translatePage($("ticket-form"));
  try {
    const response = await api("/api/stations");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    form.stations = await response.json();
    setStations(form.stations);
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
  $("new-ticket").addEventListener("click", newTicket);
}
