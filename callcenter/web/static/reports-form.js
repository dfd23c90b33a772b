// The report form (日报表) drawn from GET /api/reports/{kind}'s JSON, as the department's
// sheet lays it out: title, the first line, the station table, then the hotline's own
// figures, the generation time and the archive's verdict. Every figure cell carries the
// JSON path it shows (data-field), so what is printed can be traced to the API.

import { language, t, timeZoneName } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);

// The form's first line, in its order (004 日报表): 报修量 咨询量 已维修 已回访, then the faults.
const SUMMARY = ["repair_reports", "consultations", "repaired", "called_back"];
const CATEGORIES = ["not_hot", "ice_cold", "temperature_check", "leak"];
// The station table's columns, in the form's order.
export const COLUMNS = ["cumulative_reports", "cumulative_repairs", "unfinished", "reports", "repairs"];
const CALLS = ["offered", "answered", "answered_within_limit", "abandoned", "within_limit_rate"];
const CALLBACKS = ["owed", "made_in_time", "rate"];
// Printed at most; the rest are counted in one line, so late data never pushes the form
// onto a second sheet. The screen lists them all.
const PRINTED_DIFFERENCES = 10;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function locale() {
  return language() === "zh-CN" ? "zh-CN" : "en-GB"; // "3 December 2026", not "December 3"
}

function utcDay(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d || 1));
}

function dateText(text, options) {
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...options }).format(utcDay(text));
}

/** A count as the sheet writes it; a share as a percentage; nothing known: a dash. */
export function figure(value, rate = false) {
  if (value === null || value === undefined) return "—";
  if (rate) {
    return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(value);
  }
  return String(value);
}

/** An instant in the hotline's zone, date and time: "2026-11-24 10:00". */
export function instant(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso || "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timeZoneName(), year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(when);
  const part = (type) => (parts.find((p) => p.type === type) || {}).value;
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}`;
}

function title(r) {
  if (r.kind === "daily") {
    return [
      t("report.title.daily", { date: dateText(r.first_day, { month: "long", day: "numeric" }) }),
      t("report.subtitle.daily", {
        date: dateText(r.first_day, { year: "numeric", month: "long", day: "numeric" }),
      }),
    ];
  }
  let period = r.period;
  if (r.kind === "weekly") {
    const [year, week] = r.period.split("-W");
    period = t("report.week_name", { year, week: Number(week) });
  } else if (r.kind === "monthly") {
    period = dateText(r.period, { year: "numeric", month: "long" });
  }
  return [
    t(`report.title.${r.kind}`, { period }),
    t("report.range", { first: r.first_day, last: r.last_day }),
  ];
}

function cell(label, field, value, rate = false) {
  const box = el("div", "report-cell");
  const dd = el("dd", "", figure(value, rate));
  dd.dataset.field = field;
  box.append(el("dt", "", label), dd);
  return box;
}

function stationName(row) {
  if (row.code === "total") return t("report.total");
  return row.code ? row.name : t("report.unassigned");
}

function renderStations(r) {
  const head = $("station-head");
  head.replaceChildren(el("th", "", t("report.col.station")));
  head.firstChild.scope = "col";
  for (const col of COLUMNS) {
    const key = col === "reports" || col === "repairs" ? `report.col.${col}.${r.kind}` : `report.col.${col}`;
    const th = el("th", "", t(key));
    th.scope = "col";
    head.append(th);
  }
  // 总计 right under the header, then every station in the form's order (004's sheet).
  const rows = [{ ...r.total, code: "total" }, ...r.stations];
  $("station-rows").replaceChildren(...rows.map((row) => {
    const tr = el("tr", row.code === "total" ? "report-total" : "");
    tr.dataset.code = row.code === null ? "" : row.code;
    const th = el("th", "", stationName(row));
    th.scope = "row";
    tr.append(th);
    for (const col of COLUMNS) {
      const td = el("td", "", figure(row[col]));
      td.dataset.col = col;
      tr.append(td);
    }
    return tr;
  }));
}

function group(name, titleKey, cells) {
  const box = el("section", `report-group report-group-${name}`);
  const dl = el("dl", "report-cells");
  dl.append(...cells);
  box.append(el("h4", "", t(titleKey)), dl);
  return box;
}

function renderHotline(h) {
  $("hotline-groups").replaceChildren(
    group("calls", "report.calls", CALLS.map((k) =>
      cell(t(`report.calls.${k}`), `hotline.calls.${k}`, h.calls[k], k.endsWith("rate")))),
    group("violations", "report.violations", Object.keys(h.violations).map((k) =>
      cell(t(`kind.${k}`), `hotline.violations.${k}`, h.violations[k]))),
    group("anomalies", "report.anomalies", Object.keys(h.anomalies).map((k) =>
      cell(t(`report.anomaly.${k}`), `hotline.anomalies.${k}`, h.anomalies[k]))),
    group("callbacks", "report.callbacks", CALLBACKS.map((k) =>
      cell(t(`report.callbacks.${k}`), `hotline.callbacks.${k}`, h.callbacks[k], k === "rate"))),
  );
}

// -- the archive's word ------------------------------------------------------------------
/** What a difference's path names, in words: "stations[hongcheng].reports" → "宏城 · 今日报修". */
function what(path, r, archived) {
  const rowName = (code) => {
    if (code === "-") return t("report.unassigned");
    const row = r.stations.find((s) => s.code === code) || (archived && archived.code === code ? archived : null);
    return row ? row.name : code;
  };
  const column = (col) => t(col === "reports" || col === "repairs" ? `report.col.${col}.${r.kind}` : `report.col.${col}`);
  let m = /^stations\[(.+?)\](?:\.(\w+))?$/.exec(path);
  if (m) return m[2] ? `${rowName(m[1])} · ${column(m[2])}` : t("report.whole_row", { station: rowName(m[1]) });
  m = /^total\.(\w+)$/.exec(path);
  if (m) return `${t("report.total")} · ${column(m[1])}`;
  const labels = [
    [/^summary\.categories\.(\w+)$/, "report.cat."],
    [/^summary\.(\w+)$/, "report.f."],
    [/^hotline\.calls\.(\w+)$/, "report.calls."],
    [/^hotline\.violations\.(\w+)$/, "kind."],
    [/^hotline\.anomalies\.(\w+)$/, "report.anomaly."],
    [/^hotline\.callbacks\.(\w+)$/, "report.callbacks."],
  ];
  for (const [re, prefix] of labels) {
    m = re.exec(path);
    if (m && t(prefix + m[1]) !== prefix + m[1]) return t(prefix + m[1]);
  }
  return path;
}

function shown(value, path) {
  if (value && typeof value === "object") return COLUMNS.map((c) => figure(value[c])).join(" / ");
  return figure(value, typeof value === "number" && /rate$/.test(path));
}

function renderVerdict(r) {
  const box = $("verdict");
  const v = r.archive;
  box.className = "report-verdict";
  if (!v) {
    const key = r.kind === "season" ? "report.season_not_archived" : "report.not_archived";
    box.replaceChildren(el("p", "", t(key)));
    return;
  }
  const stamp = el("p", "report-archived", `${t("report.archived", { time: instant(v.archived_at) })} `);
  stamp.append(el("code", "report-sha", v.sha256));
  if (v.same) {
    box.replaceChildren(stamp, el("p", "", t("report.archived_same")));
    return;
  }
  // Late data: the figures moved since the archive; the statistician explains each one.
  box.classList.add("report-differs");
  box.setAttribute("role", "note");
  const list = el("ul", "report-differences");
  for (const d of v.differences) {
    const archivedRow = d.archived && typeof d.archived === "object" ? d.archived : d.now;
    const li = el("li", "", t("report.difference", {
      what: what(d.path, r, archivedRow),
      archived: shown(d.archived, d.path),
      now: shown(d.now, d.path),
    }));
    li.dataset.path = d.path;
    list.append(li);
  }
  const hidden = v.differences.length - PRINTED_DIFFERENCES;
  if (hidden > 0) list.append(el("li", "report-more print-only", t("report.diff_more", { count: hidden })));
  box.replaceChildren(
    el("p", "report-differs-title", t("report.differs_title", { count: v.differences.length })),
    stamp,
    list,
  );
}

/** Draw the report; the language and the zone are the page's current ones. */
export function renderForm(r) {
  const [heading, sub] = title(r);
  $("form-title").textContent = heading;
  $("form-subtitle").textContent = sub;
  $("incomplete").hidden = r.complete;
  const s = r.summary;
  $("first-line").replaceChildren(
    ...SUMMARY.map((k) => cell(t(`report.f.${k}`), `summary.${k}`, s[k])),
    ...CATEGORIES.map((k) => cell(t(`report.cat.${k}`), `summary.categories.${k}`, s.categories[k])),
  );
  renderStations(r);
  renderHotline(r.hotline);
  $("generated").textContent = t("report.generated", { time: instant(r.generated_at), zone: timeZoneName() });
  renderVerdict(r);
}
