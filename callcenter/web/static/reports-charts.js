// The charts under the form (GET /api/reports/charts/…): drawn by the service as SVG, shown as
// images so the page never runs or parses them. A daily report shows its day; a week, month or
// season its last day, or today while it runs (the charts are per day). They do not print.

import { language, t } from "/static/i18n.js";

export const CHARTS = ["hourly", "rings", "agents", "stations", "anomalies"];

/** The chart's address for `day` in the page's language. */
export function chartPath(name, day, lang = language()) {
  const q = new URLSearchParams({ date: day, lang });
  return `/api/reports/charts/${name}?${q}`;
}

/** The hotline's day `iso` (a UTC instant) falls on, as YYYY-MM-DD. */
function localDay(iso, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone }).format(new Date(iso));
}

/** Fill `section` with the charts of `report`'s last day (today, for a period not over: a
 * later day has nothing to draw); empty it when there is no report. */
export function renderCharts(section, report) {
  section.replaceChildren();
  if (!report) return;
  const day = report.complete ? report.last_day : localDay(report.generated_at, report.timezone);
  const heading = document.createElement("h2");
  heading.id = "charts-title";
  heading.textContent = t("report.charts.title", { day });
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  if (report.kind !== "daily") {
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = t("report.charts.last_day");
    section.append(note);
  }
  for (const name of CHARTS) {
    const figure = document.createElement("figure");
    figure.className = "report-chart";
    const img = document.createElement("img");
    img.src = chartPath(name, day);
    img.alt = t(`report.charts.${name}`, { day });
    img.loading = "lazy";
    img.dataset.chart = name;
    const link = document.createElement("a");
    link.href = img.src;
    link.target = "_blank";
    link.rel = "noopener";
    link.append(img);
    figure.append(link);
    section.append(figure);
  }
}
