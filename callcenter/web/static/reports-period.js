// Which report a URL names (/reports?kind=daily&date=2026-12-03) and the arithmetic of its
// periods: days, ISO weeks, months, heating seasons. Pure: no DOM, no clock. Dates are
// "YYYY-MM-DD" strings worked out in UTC, so the browser's own zone never shifts a day.

export const KINDS = ["daily", "weekly", "monthly", "season"];
// The API's parameter for each kind (GET /api/reports/{kind}?date=|week=|month=|season=).
export const PARAM = { daily: "date", weekly: "week", monthly: "month", season: "season" };
const DAY_MS = 86400000;

/** {kind, value} from a query string; value null asks the server for its default. */
export function fromQuery(search) {
  const q = new URLSearchParams(search);
  const kind = KINDS.includes(q.get("kind")) ? q.get("kind") : "daily";
  const value = q.get(PARAM[kind]);
  return { kind, value: value === null || value === "" ? null : value };
}

export function toQuery({ kind, value }) {
  const q = new URLSearchParams({ kind });
  if (value) q.set(PARAM[kind], value);
  return `?${q}`;
}

/** The API path of a report, as JSON or as a download. */
export function apiPath({ kind, value }, format = "json") {
  const q = new URLSearchParams();
  if (value) q.set(PARAM[kind], value);
  if (format !== "json") q.set("format", format);
  const query = q.toString();
  return `/api/reports/${kind}${query ? `?${query}` : ""}`;
}

/** What names the report the server sent, as the chooser and the URL write it. */
export function valueOf(report) {
  return report.kind === "season" ? report.season_start.slice(0, 4) : report.period;
}

function day(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCMonth() === +m[2] - 1 ? d : null; // 2026-02-30 is no day
}

function iso(d) {
  return d.toISOString().slice(0, 10);
}

function plusDays(d, n) {
  return new Date(d.getTime() + n * DAY_MS);
}

/** "2026-W49": the ISO year and week of a day (the week of its Thursday). */
export function isoWeek(d) {
  const thursday = plusDays(d, 4 - (d.getUTCDay() || 7));
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / DAY_MS / 7) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

function monday(weekText) {
  const m = /^(\d{4})-W(\d{2})$/.exec(weekText || "");
  if (!m) return null;
  const jan4 = new Date(Date.UTC(+m[1], 0, 4)); // 4 January is always in week 1
  return plusDays(jan4, (+m[2] - 1) * 7 - ((jan4.getUTCDay() || 7) - 1));
}

function firstOfMonth(monthText) {
  const m = /^(\d{4})-(\d{2})$/.exec(monthText || "");
  return m && +m[2] >= 1 && +m[2] <= 12 ? new Date(Date.UTC(+m[1], +m[2] - 1, 1)) : null;
}

/** The value of `kind` naming the period that holds the day `text`; season: its year,
 * given by the shown report's season when known. */
export function periodOf(kind, text, seasonYear) {
  const d = day(text);
  if (!d) return null;
  if (kind === "daily") return iso(d);
  if (kind === "weekly") return isoWeek(d);
  if (kind === "monthly") return iso(d).slice(0, 7);
  return seasonYear || String(d.getUTCFullYear() - (d.getUTCMonth() < 6 ? 1 : 0));
}

/** The period before (by = -1) or after (by = 1) the one `value` names; null if unreadable. */
export function step(kind, value, by) {
  if (kind === "daily") {
    const d = day(value);
    return d && iso(plusDays(d, by));
  }
  if (kind === "weekly") {
    const d = monday(value);
    return d && isoWeek(plusDays(d, 7 * by));
  }
  if (kind === "monthly") {
    const d = firstOfMonth(value);
    return d && iso(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + by, 1))).slice(0, 7);
  }
  return /^\d{4}$/.test(value || "") ? String(+value + by) : null;
}
