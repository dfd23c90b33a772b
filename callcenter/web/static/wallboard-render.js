// Draws the wallboard's figures (callcenter.wallboard/1) into the page, and the two states
// around them: the connection line, and the full-screen message when the token is refused.

import { chineseNumber, formatNumber, language, localTime, t } from "/static/i18n.js";

export const $ = (id) => document.getElementById(id);

const BLOCKED = {
  "wallboard-token-revoked": () => [t("wall.blocked.revoked"), t("wall.blocked.revoked_text")],
  "wallboard-token-missing": () => [t("wall.blocked.missing"), t("wall.blocked.missing_text")],
  "wallboard-token-invalid": () => [t("wall.blocked.invalid"), t("wall.blocked.invalid_text")],
};

function limitVars(figures) {
  const limit = figures ? figures.ring_limit : 3;
  return { limit, limit_cn: chineseNumber(limit) };
}

function count(value) {
  return typeof value === "number" ? formatNumber(value) : "—";
}

function setTone(el, tone) {
  el.classList.toggle("good", tone === "good");
  el.classList.toggle("bad", tone === "bad");
}

/** The ring that `seconds` of ringing has reached (⌊seconds / cycle⌋ + 1), as the server. */
function ringsAt(seconds, cycle) {
  return Math.floor(seconds / cycle + 1e-9) + 1;
}

function drawRate(figures) {
  const vars = limitVars(figures);
  $("wall-rate-title").textContent = t("wall.rate", vars);
  $("wall-within-label").textContent = t("wall.within", vars);
  const calls = figures ? figures.calls : null;
  const rate = calls ? calls.within_limit_rate : null;
  $("wall-rate-value").textContent =
    typeof rate === "number"
      ? formatNumber(rate, { style: "percent", maximumFractionDigits: 1 })
      : "—";
  // Colour and words both: a colour-blind viewer across the room reads the verdict too.
  const verdict = $("wall-rate-verdict");
  const rule = figures ? figures.rule : null;
  let text = figures ? t("wall.rule_none") : "";
  if (rule === "met") text = t("wall.rule_met", vars);
  if (rule === "missed") {
    const missed = calls.rate_base - calls.answered_within_limit;
    text = t("wall.rule_missed", { ...vars, count: formatNumber(missed) });
  }
  verdict.textContent = text;
  const tone = rule === "met" ? "good" : rule === "missed" ? "bad" : null;
  setTone(verdict, tone);
  setTone($("wall-rate"), tone);
  $("wall-rate-basis").textContent =
    calls && calls.rate_base
      ? t("wall.basis", {
          within: formatNumber(calls.answered_within_limit),
          base: formatNumber(calls.rate_base),
        })
      : "";
}

/** The phones ringing now; the longest one's seconds tick between messages. */
export function drawRinging(figures, receivedAt) {
  const ringing = figures ? figures.ringing : null;
  $("wall-ringing-count").textContent = ringing ? count(ringing.legs) : "—";
  const longest = $("wall-ringing-longest");
  if (!ringing || !ringing.legs || typeof ringing.longest_seconds !== "number") {
    longest.textContent = ringing ? t("wall.ringing_none") : "";
    setTone($("wall-ringing"), null);
    return;
  }
  const seconds = ringing.longest_seconds + Math.max(0, (Date.now() - receivedAt) / 1000);
  const rings = ringsAt(seconds, figures.cycle_seconds);
  const past = rings > figures.ring_limit;
  const vars = { seconds: formatNumber(Math.floor(seconds)), rings: formatNumber(rings) };
  longest.textContent = t(past ? "wall.longest_past" : "wall.longest", vars);
  setTone($("wall-ringing"), past ? "bad" : null);
}

function drawTiles(figures) {
  const calls = figures ? figures.calls : {};
  $("wall-offered").textContent = count(calls.offered);
  $("wall-answered").textContent = count(calls.answered);
  $("wall-within").textContent = count(calls.answered_within_limit);
  $("wall-abandoned").textContent = count(calls.abandoned);
  const violations = figures ? figures.violations.total : null;
  $("wall-violations").textContent = count(violations);
  setTone($("wall-violations").parentElement, violations ? "bad" : null);
  $("wall-anomalies").textContent = count(figures ? figures.anomalies.open : null);
  $("wall-anomalies-today").textContent = figures
    ? t("wall.anomalies_today", { count: formatNumber(figures.anomalies.today) })
    : "";
  $("wall-callbacks").textContent = count(figures ? figures.callbacks.due_today : null);
  const overdue = figures ? figures.callbacks.overdue : 0;
  $("wall-callbacks-overdue").textContent = overdue
    ? t("wall.callbacks_overdue", { count: formatNumber(overdue) })
    : "";
  setTone($("wall-callbacks").parentElement, overdue ? "bad" : null);
}

function drawOrders(figures) {
  const orders = figures ? figures.orders : null;
  $("wall-orders-total").textContent = orders ? count(orders.open) : "—";
  const list = $("wall-stations");
  list.replaceChildren();
  $("wall-orders-none").hidden = !orders || orders.open > 0;
  if (!orders || !orders.open) return;
  for (const station of orders.by_station) {
    const li = document.createElement("li");
    li.className = station.open ? "wall-station" : "wall-station none";
    li.dataset.station = station.code;
    const name = document.createElement("span");
    name.className = "wall-station-name";
    name.textContent = station.name;
    const value = document.createElement("span");
    value.className = "wall-station-open";
    value.textContent = formatNumber(station.open);
    li.append(name, value);
    list.append(li);
  }
}

function drawDay(figures) {
  if (!figures) {
    $("wall-day").textContent = "";
    return;
  }
  // The hotline's day (web.timezone), spelled in the page's language.
  const day = new Date(`${figures.day}T12:00:00Z`);
  $("wall-day").textContent = new Intl.DateTimeFormat(language(), {
    dateStyle: "full",
    timeZone: "UTC",
  }).format(day);
}

/** Everything from the figures (null: no data at all, e.g. once a token is refused). */
export function drawFigures(figures, receivedAt) {
  drawRate(figures);
  drawRinging(figures, receivedAt);
  drawTiles(figures);
  drawOrders(figures);
  drawDay(figures);
  $("wall-updated").textContent =
    figures && figures.now ? t("wall.updated", { time: localTime(figures.now) }) : "";
}

export function drawClock() {
  $("wall-clock").textContent = localTime(new Date().toISOString());
}

/** connecting | live | lost: the line in the header, and the board dimmed while lost. */
export function drawConn(conn) {
  const el = $("wall-conn");
  el.className = `wall-conn conn-${conn}`;
  el.textContent = t(`wall.conn.${conn}`);
  $("wall-board").classList.toggle("stale", conn === "lost");
}

/** A refused token: the whole screen says why, and no figure stays on it. */
export function drawBlocked(code) {
  const [title, text] = (BLOCKED[code] || BLOCKED["wallboard-token-invalid"])();
  $("wall-blocked-title").textContent = title;
  $("wall-blocked-text").textContent = text;
  $("wall-blocked").hidden = false;
  $("wall-blocked").dataset.reason = code;
  $("wall-head").hidden = true;
  $("wall-board").hidden = true;
  drawFigures(null, 0);
}
