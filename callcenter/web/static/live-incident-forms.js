// The live page's incident forms: confirm a proposal (its cause and expected repair time),
// dismiss it (the reason), close an incident (what was repaired), and open one (the area's
// places, the station when the area spans several, the cause, the expected time). Times are
// typed on the hotline's wall clock; an API error shows beside the field it names.

import { fromZoneInput, t, timeZoneName, toZoneInput } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";

// model.INCIDENT_HEADS confirm, dismiss and close; INCIDENT_OPENERS also open one.
export const HEADS = ["qa_lead", "supervisor", "admin"];
export const OPENERS = ["team_lead", ...HEADS];
export const AREA_KINDS = ["building", "community", "street", "district", "station"];
const DONE = {
  confirm: "incidents.done.confirmed",
  dismiss: "incidents.done.dismissed",
  close: "incidents.done.closed",
};

const $ = (id) => document.getElementById(id);
let formSeq = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A labelled control and the line its error shows on (data-error-for: the API's field). */
function field(form, name, labelText, control) {
  control.id = `incident-${++formSeq}-${name}`;
  control.name = name;
  const label = el("label", "", labelText);
  label.htmlFor = control.id;
  const error = el("p", "field-error");
  error.dataset.errorFor = name;
  error.setAttribute("role", "alert");
  error.hidden = true;
  form.append(label, control, error);
  return control;
}

function textInput(value = "", maxLength = 500) {
  const input = el("input");
  input.maxLength = maxLength;
  input.value = value;
  return input;
}

function textArea(maxLength = 500) {
  const area = el("textarea");
  area.rows = 2;
  area.maxLength = maxLength;
  return area;
}

function timeInput(iso) {
  const input = el("input");
  input.type = "datetime-local";
  input.value = toZoneInput(iso);
  return input;
}

function expectedLabel() {
  return t("incidents.expected_label", { zone: timeZoneName() });
}

export function focusFirst(form) {
  form?.querySelector("input:not([type=hidden]), select, textarea")?.focus();
}

// -- errors beside their fields -------------------------------------------------------------
function errorText(answer) {
  const message = answer.message || answer.error || "";
  for (const key of [`incidents_error.${answer.error}.${answer.field}`, `incidents_error.${answer.error}`]) {
    const text = t(key, { message });
    if (text !== key) return text;
  }
  return message;
}

function clearErrors(form) {
  for (const box of form.querySelectorAll("[data-error-for]")) {
    box.hidden = true;
    box.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** The error beside the field it names, else at the form's foot; the field takes the focus. */
function showError(form, answer) {
  const named = answer.field ? form.querySelector(`[data-error-for="${CSS.escape(answer.field)}"]`) : null;
  const box = named || form.querySelector('[data-error-for=""]');
  box.hidden = false;
  box.textContent = errorText(answer);
  const input = named ? form.elements.namedItem(answer.field) : null;
  if (input && input.focus) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  return Boolean(named);
}

/** POST `body`; the incident the API answered, or null after showing why not. */
async function send(form, path, body) {
  clearErrors(form);
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  let answer = {};
  let ok = false;
  try {
    const response = await api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    ok = response.ok;
  } catch (err) {
    if (err instanceof SignedOut) return null;
    answer = { error: "network", message: t("error.network") };
  }
  submit.disabled = false;
  if (ok) return answer;
  showError(form, answer);
  return null;
}

function footer(form, submitKey, onCancel) {
  const general = el("p", "field-error");
  general.dataset.errorFor = "";
  general.setAttribute("role", "alert");
  general.hidden = true;
  const save = el("button", "primary small-button", t(submitKey));
  save.type = "submit";
  const cancel = el("button", "ghost small-button", t("incidents.cancel"));
  cancel.type = "button";
  cancel.addEventListener("click", onCancel);
  const row = el("div", "form-actions");
  row.append(save, cancel, el("span", "muted small", t("incidents.keys")));
  form.append(general, row);
}

function keys(form, onCancel) {
  form.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

// -- on one incident: confirm, dismiss, close ---------------------------------------------------
/** The form for `action` on `incident`; `done(result)` with {incident, doneKey}, or null when
 * cancelled. */
export function actionForm(incident, action, done) {
  const form = el("form", "incident-form");
  form.noValidate = true;
  form.dataset.id = incident.id;
  form.dataset.action = action;
  let read;
  if (action === "confirm") {
    const cause = field(form, "cause", t("incidents.cause_label"), textInput(incident.cause));
    const expected = field(form, "expected_repair_at", expectedLabel(), timeInput(incident.expected_repair_at));
    read = () => {
      const body = { cause: cause.value.trim() || null };
      const when = fromZoneInput(expected.value);
      if (when) body.expected_repair_at = when;
      return body;
    };
  } else if (action === "dismiss") {
    const reason = field(form, "reason", t("incidents.reason_label"), textArea());
    read = () => ({ reason: reason.value });
  } else {
    const note = field(form, "note", t("incidents.note_label"), textArea());
    read = () => ({ note: note.value });
  }
  const cancel = () => done(null);
  footer(form, `incidents.${action}_submit`, cancel);
  keys(form, cancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = `/api/incidents/${encodeURIComponent(incident.id)}/${action}`;
    const answer = await send(form, path, read());
    if (answer) done({ incident: answer, doneKey: DONE[action] });
  });
  return form;
}

// -- opening one (a lead) -----------------------------------------------------------------------
/** Place names as typed: one per line, or separated by commas or 、. */
function places(text) {
  return text
    .split(/[\n,，、;；]+/)
    .map((name) => name.trim())
    .filter(Boolean);
}

function fillStations(select, stations) {
  const auto = el("option", "", t("incidents.station_auto"));
  auto.value = "";
  select.replaceChildren(
    auto,
    ...stations().map((s) => {
      const option = el("option", "", s.name);
      option.value = s.code;
      return option;
    }),
  );
}

function fillKinds(select) {
  const chosen = select.value || "community";
  select.replaceChildren(
    ...AREA_KINDS.map((kind) => {
      const option = el("option", "", t(`incidents.kind.${kind}`));
      option.value = kind;
      return option;
    }),
  );
  select.value = chosen;
}

/** The static "open an incident" form of live.html: shown by its button, to the leads. */
export function startOpenForm({ onOpened, stations }) {
  const form = $("incident-open-form");
  const button = $("incident-open-button");
  const stationField = $("incident-station-field");
  const show = (open) => {
    form.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      fillKinds($("incident-kind"));
      fillStations($("incident-station"), stations);
      $("incident-expected-label").textContent = expectedLabel();
      focusFirst(form);
    } else {
      clearErrors(form);
      form.reset();
      stationField.hidden = true;
      button.focus();
    }
  };
  button.addEventListener("click", () => show(form.hidden));
  $("incident-open-cancel").addEventListener("click", () => show(false));
  keys(form, () => show(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = $("incident-kind").value;
    const body = {
      area: places($("incident-names").value).map((name) => ({ kind, name })),
      cause: $("incident-cause").value.trim() || null,
    };
    if (!body.area.length) {
      clearErrors(form);
      showError(form, { field: "area", message: t("incidents.names_missing") });
      return;
    }
    const station = $("incident-station").value;
    if (station && !stationField.hidden) body.station = station;
    const when = fromZoneInput($("incident-expected").value);
    if (when) body.expected_repair_at = when;
    const answer = await send(form, "/api/incidents", body);
    if (!answer) {
      // The area is served by more than one station: now the lead names whose network failed.
      if (!form.querySelector('[data-error-for="station"]').hidden) {
        stationField.hidden = false;
        $("incident-station").focus();
      }
      return;
    }
    show(false);
    onOpened(answer);
  });
}
