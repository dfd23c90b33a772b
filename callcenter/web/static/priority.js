// Priority by the cold on the pages: a repair's band with its score, the reasons it adds up
// from, and the outdoor temperature when it is unknown (never hidden: the score is then the
// other factors only). Used by the desk's ticket view and the station portal.

import { t } from "/static/i18n.js";

export const BANDS = ["critical", "high", "normal", "low"];
export const VULNERABILITIES = ["elderly", "infant", "medical"];

function number(value) {
  // −18 with a real minus sign, one decimal at most.
  const rounded = Math.round(Number(value) * 10) / 10;
  return String(rounded).replace("-", "\u2212");
}

function waited(hours) {
  const h = Number(hours);
  if (h < 1) return t("priority.minutes", { m: Math.round(h * 60) });
  return t("priority.hours", { h: number(h) });
}

/** One reason in the reader's language: what it was and the points it added. */
export function reasonText(reason) {
  const points = number(reason.points);
  if (reason.factor === "category") {
    const what = reason.value ? t(`category.${reason.value}`) : t("priority.no_category");
    return t("priority.reason.category", { what, points });
  }
  if (reason.factor === "outdoor") {
    if (reason.value === null || reason.value === undefined) return t("priority.reason.outdoor_unknown");
    return t("priority.reason.outdoor", { celsius: number(reason.value), points });
  }
  if (reason.factor === "vulnerability") {
    return t("priority.reason.vulnerability", { what: t(`vulnerability.${reason.value}`), points });
  }
  return t("priority.reason.waiting", { time: waited(reason.value), points });
}

/** The band as a badge: "紧急 · 105.5 分". */
export function priorityBadge(priority) {
  const badge = document.createElement("span");
  badge.className = `prio prio-${priority.band}`;
  badge.textContent = t("priority.badge", {
    band: t(`priority.band.${priority.band}`),
    score: number(priority.score),
  });
  return badge;
}

/** "室外温度未知" beside a priority that could not count the cold; null when it did. */
export function unknownMark(priority) {
  if (priority.temperature !== "unknown") return null;
  const mark = document.createElement("span");
  mark.className = "prio-unknown";
  mark.textContent = t("priority.temperature_unknown");
  mark.title = t(`outdoor.why.${priority.outdoor ? priority.outdoor.state : "unknown"}`);
  return mark;
}

/** Badge, unknown mark and reasons, for a list line or a summary row. */
export function priorityNodes(priority, { reasons = true } = {}) {
  const nodes = [priorityBadge(priority)];
  const mark = unknownMark(priority);
  if (mark) nodes.push(" ", mark);
  if (reasons) {
    const why = document.createElement("span");
    why.className = "prio-reasons";
    why.textContent = priority.reasons.map(reasonText).join(" · ");
    nodes.push(" ", why);
  }
  return nodes;
}

/** The outdoor temperature now (GET /api/temperature) as one short line. */
export function outdoorText(now) {
  if (now && now.state === "ok") return t("outdoor.ok", { celsius: number(now.celsius) });
  const state = now ? now.state : "unknown";
  return `${t("outdoor.unknown")} (${t(`outdoor.why.${state}`)})`;
}
