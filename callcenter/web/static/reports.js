// The reports page (日报表, entry module): choose the kind and the period, see the department's
// form as the API builds it, download it, print it on one A4 sheet. The URL holds the choice
// (/reports?kind=daily&date=2026-12-03): a link or a reload shows the same report, and the
// browser's back goes to the one before. The form is drawn by reports-form.js.

import { bindLanguageButtons, onLanguageChange, setTimeZone, startLanguage, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { apiPath, fromQuery, KINDS, periodOf, step, toQuery, valueOf } from "/static/reports-period.js";
import { renderForm } from "/static/reports-form.js";
import { renderCharts } from "/static/reports-charts.js";
import { renderClock } from "/static/reports-clock.js";

const $ = (id) => document.getElementById(id);
// Who reads reports: STATS_READERS (the API answers 403 to anyone else).
const READERS = ["team_lead", "qa_lead", "supervisor", "admin"];
const INPUT = { daily: "date", weekly: "week", monthly: "month", season: "season" };

const state = {
  me: null,
  want: { kind: "daily", value: null }, // what the URL asks for
  report: null, // the JSON shown, or null
  status: { key: "", vars: {} }, // the status line, kept as a key to redraw in another language
  seq: 0, // the newest load: an older answer arriving late is dropped
};

function setStatus(key, vars = {}) {
  state.status = { key, vars };
  renderStatus();
}

function renderStatus() {
  const { key, vars } = state.status;
  $("status").textContent = key ? t(key, vars) : "";
  $("status").classList.toggle("report-error", key === "report.error" || key === "report.network");
}

function renderHeader() {
  $("user-name").textContent = state.me.name;
  $("user-role").textContent = t(`role.${state.me.role}`);
}

// -- the chooser ---------------------------------------------------------------------------
function showChoice({ kind, value }) {
  for (const radio of document.querySelectorAll('input[name="kind"]')) radio.checked = radio.value === kind;
  for (const label of document.querySelectorAll(".report-when label[data-kind]")) {
    label.hidden = label.dataset.kind !== kind;
  }
  if (value !== null) $(INPUT[kind]).value = value;
}

function renderLinks() {
  const r = state.report;
  const want = r ? { kind: r.kind, value: valueOf(r) } : null;
  for (const format of ["csv", "xlsx"]) {
    const link = $(format);
    link.hidden = !want;
    link.href = want ? apiPath(want, format) : "#";
  }
  $("print").hidden = !r;
  const { kind, value } = state.want;
  $("prev").disabled = !(value && step(kind, value, -1));
  // A period not over yet has no next one that has begun.
  $("next").disabled = !r || !r.complete;
}

function renderAll() {
  if (!state.me) return;
  renderHeader();
  renderStatus();
  renderLinks();
  $("form").hidden = !state.report;
  if (state.report) renderForm(state.report);
  renderClock($("clock"), state.report);
  renderCharts($("charts"), state.report);
}

/** Show the report `want` names; `how`: "push" a new history entry, "replace" it, or "none"
 * (the browser moved: back or forward). */
async function load(want, how) {
  const seq = ++state.seq;
  state.want = want;
  showChoice(want);
  if (how === "push") history.pushState(null, "", toQuery(want));
  if (how === "replace") history.replaceState(null, "", toQuery(want));
  setStatus("report.loading");
  let response;
  let body = null;
  try {
    response = await api(apiPath(want));
    body = await response.json().catch(() => null);
  } catch (err) {
    if (err instanceof SignedOut) return;
    if (seq !== state.seq) return;
    state.report = null;
    setStatus("report.network");
    renderAll();
    return;
  }
  if (seq !== state.seq) return;
  if (!response.ok) {
    // The API names the problem (a future day, before the first data, a malformed period).
    state.report = null;
    const message = (body && body.message) || `HTTP ${response.status}`;
    setStatus("report.error", { message });
    renderAll();
    return;
  }
  state.report = body;
  const shown = { kind: body.kind, value: valueOf(body) };
  if (shown.value !== want.value) {
    // The server's default (yesterday) or another spelling of the period: the URL names it.
    state.want = shown;
    history.replaceState(null, "", toQuery(shown));
    showChoice(shown);
  }
  setStatus("");
  renderAll();
}

function chosen() {
  const kind = document.querySelector('input[name="kind"]:checked')?.value || "daily";
  const value = $(INPUT[kind]).value.trim();
  return { kind, value: value || null };
}

/** Another kind: the period of it that holds the day shown, when that day is over. */
function switchKind(kind) {
  const r = state.report;
  let value = null;
  if (r && r.complete) {
    value = periodOf(kind, r.last_day, r.season_start.slice(0, 4));
  } else if (r && r.kind === "daily") {
    value = periodOf(kind, r.first_day, r.season_start.slice(0, 4));
  }
  load({ kind, value }, "push");
}

function bindChooser() {
  $("period-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load(chosen(), "push");
  });
  for (const radio of document.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", () => {
      if (radio.checked && KINDS.includes(radio.value)) switchKind(radio.value);
    });
  }
  for (const [id, by] of [["prev", -1], ["next", 1]]) {
    $(id).addEventListener("click", () => {
      const { kind, value } = state.want;
      const moved = value && step(kind, value, by);
      if (moved) load({ kind, value: moved }, "push");
    });
  }
  $("print").addEventListener("click", () => window.print());
  window.addEventListener("popstate", () => load(fromQuery(window.location.search), "none"));
}

async function start() {
  let me;
  try {
    const response = await api("/api/me");
    me = await response.json();
  } catch (err) {
    if (err instanceof SignedOut) return;
    throw err;
  }
  state.me = me;
  setTimeZone(me.timezone);
  await startLanguage(me.language);
  bindLanguageButtons();
  onLanguageChange(() => renderAll());
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  $("logout").addEventListener("click", async () => {
    await api("/api/logout", { method: "POST" }).catch(() => {});
    window.location.replace("/login");
  });
  renderHeader();
  if (!READERS.includes(me.role)) {
    // Agents and stations: not theirs to read (the API refuses them too).
    $("chooser").hidden = true;
    $("not-for-role").hidden = false;
    $("not-for-role").dataset.i18n = "report.not_for_role";
    $("not-for-role").textContent = t("report.not_for_role");
    return;
  }
  bindChooser();
  await load(fromQuery(window.location.search), "replace");
}

start();
