// The one clock under the report (GET /api/reports/clock): for the period's repair tickets,
// per station, how long from the first ring to the answer, the dispatch, the station taking
// it, the contact, the repair and the callback — median and 90th percentile (nearest rank),
// net of the station's waits on the resident. A season is longer than the report allows (31
// days): it says so. Read once per period; a language change only redraws. It does not print.

import { t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { duration } from "/static/desk-clock.js";

const METRICS = ["to_answer", "to_dispatch", "to_acknowledge", "to_contact", "to_repair", "to_callback"];
const MOST_DAYS = 31;
const DAY_MS = 86400000;

const cache = { key: "", body: null, status: "idle" }; // status: idle | loading | ok | error

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function days(report) {
  return Math.round((Date.parse(report.last_day) - Date.parse(report.first_day)) / DAY_MS) + 1;
}

export function clockPath(report, format = "json") {
  const q = new URLSearchParams({ from: report.first_day, to: report.last_day });
  if (format !== "json") q.set("format", format);
  return `/api/reports/clock?${q}`;
}

async function load(section, report, key) {
  cache.key = key;
  cache.body = null;
  cache.status = "loading";
  try {
    const response = await api(clockPath(report));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    if (cache.key !== key) return;
    cache.body = body;
    cache.status = "ok";
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.warn("loading the clock report failed", err);
    if (cache.key !== key) return;
    cache.status = "error";
  }
  renderClock(section, report);
}

function cell(summary) {
  if (!summary || !summary.count) return "—";
  return `${duration(summary.p50)} / ${duration(summary.p90)}`;
}

function stationLabel(code, report) {
  if (code === null) return t("report.clock.all");
  if (code === "") return t("report.clock.none");
  const row = (report.stations || []).find((s) => s.code === code);
  return row ? row.name : code;
}

function table(body, report) {
  const wrap = el("div", "report-clock-scroll");
  wrap.setAttribute("role", "region");
  wrap.tabIndex = 0;
  wrap.setAttribute("aria-label", t("report.clock.title"));
  const tableEl = el("table", "report-clock-table");
  const head = el("tr");
  head.append(
    el("th", "", t("report.clock.station")),
    el("th", "", t("report.clock.tickets")),
    el("th", "", t("report.clock.without_call")),
  );
  for (const m of METRICS) head.append(el("th", "", t(`report.clock.${m}`)));
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  // The whole period's rows: every station first, then each station with tickets.
  for (const row of body.rows.filter((r) => r.date === null)) {
    const tr = el("tr", row.station === null ? "report-clock-all" : "");
    const name = el("th", "", stationLabel(row.station, report));
    name.scope = "row";
    tr.append(name, el("td", "", String(row.tickets)), el("td", "", String(row.without_call)));
    for (const m of METRICS) tr.append(el("td", "", cell(row[m])));
    tbody.append(tr);
  }
  tableEl.append(thead, tbody);
  wrap.append(tableEl);
  return wrap;
}

/** Fill `section` with the clock of `report`'s period (nothing without a report). */
export function renderClock(section, report) {
  section.replaceChildren();
  if (!report) return;
  const heading = el("h2", "", t("report.clock.title"));
  heading.id = "clock-title";
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  if (days(report) > MOST_DAYS) {
    section.append(el("p", "muted", t("report.clock.too_long", { days: MOST_DAYS })));
    return;
  }
  const key = `${report.first_day}/${report.last_day}/${report.generated_at}`;
  if (cache.key !== key) {
    load(section, report, key);
  }
  const note = el("p", "muted small", t("report.clock.note"));
  section.append(note);
  if (cache.status === "loading") section.append(el("p", "muted", t("report.clock.loading")));
  else if (cache.status === "error") section.append(el("p", "report-error", t("report.clock.error")));
  else if (cache.body) {
    section.append(table(cache.body, report));
    const link = el("a", "report-download", t("report.clock.csv"));
    link.href = clockPath(report, "csv");
    section.append(link);
  }
}
