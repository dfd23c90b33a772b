// The live page's drawing, no I/O: header and connection status, the banner saying the
// service is degraded (服务降级, from /api/health), today's answer rate and the PBX event
// sources (事件源); the call panels are live-calls.js, the anomalies live-anomalies.js, the
// incidents live-incidents.js, the state and DOM helpers live-state.js. renderAll draws them all.

import {
  chineseNumber,
  formatNumber,
  localTime,
  setTimeZone,
  t,
  timeZoneName,
} from "/static/i18n.js";
import { renderAnomalies } from "/static/live-anomalies.js";
import { renderIncidents } from "/static/live-incidents.js";
import { renderLine } from "/static/live-line.js";
import {
  renderNotices,
  renderRinging,
  renderViolations,
  updateRingingRow,
} from "/static/live-calls.js";
import { $, el, setText, state } from "/static/live-state.js";

export {
  addChargeNotice,
  addOverflowFailure,
  addRinging,
  dismissAllNotices,
  dismissNotice,
  markOverflow,
  mergeViolations,
  prependViolation,
  removeRinging,
  renderNotices,
  renderRinging,
  renderViolations,
  updateRingingRow,
} from "/static/live-calls.js";
export { $, MAX_VIOLATIONS, state } from "/static/live-state.js";

const SOURCE_KINDS = ["hep", "ami", "esl", "mqtt"];
// A source's state → the colour of its dot: green working, grey on the way, amber retrying, red.
const SOURCE_TONES = {
  connected: "ok",
  listening: "ok",
  connecting: "idle",
  starting: "idle",
  backoff: "warn",
  auth_failed: "bad",
};

/** Show every time in `zone` (web.timezone, named by the server); redraw if it changed. */
export function useTimeZone(zone) {
  const before = timeZoneName();
  if (setTimeZone(zone) && timeZoneName() !== before && state.me) renderAll();
}

/** The left column (rate, sources) goes when neither panel is the user's to see. */
function renderSide() {
  const none = state.statsStatus === "forbidden" && state.sourcesStatus === "forbidden";
  $("side").hidden = none;
  document.querySelector("main").classList.toggle("no-stats", none);
}

// -- header and connection status --------------------------------------------------------
const DESK_ROLES = ["agent", "team_lead", "qa_lead", "supervisor", "admin"];
const QA_ROLES = ["team_lead", "qa_lead", "supervisor", "admin"];
const REPORT_ROLES = ["team_lead", "qa_lead", "supervisor", "admin"]; // STATS_READERS

export function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-role").textContent = t(`role.${me.role}`);
  const ext = $("user-extension");
  ext.hidden = !me.extension;
  ext.textContent = me.extension ? t("header.extension", { extension: me.extension }) : "";
  // The desk: agents take tickets there, and the leads follow every agent's.
  $("desk-link").hidden = !DESK_ROLES.includes(me.role);
  // Spot checks (录音抽查): the leads score there; an agent finds 我的测评 on the desk.
  $("qa-link").hidden = !QA_ROLES.includes(me.role);
  // The report form (日报表) the supervisors print each morning.
  $("reports-link").hidden = !REPORT_ROLES.includes(me.role);
}

export function renderConn() {
  const box = $("conn");
  box.className = `conn conn-${state.conn}`;
  const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
  setText($("conn-text"), t(`conn.${state.conn}`, { seconds }));
  const health = $("conn-health");
  health.hidden = state.health !== "unknown";
  setText(health, health.hidden ? "" : t("health.unknown"));
}


// -- the service's health: a red banner while it is degraded -------------------------------
let healthSaid = ""; // what the banner last announced: which problems, in which language

/** role="alert" reads the heading out when the banner appears, a problem comes or goes, or
 * the language changes; not when only a count in a reason moves ("for 42 s" → "for 47 s"). */
export function renderHealth() {
  const degraded = state.health === "degraded";
  const reasons = degraded ? state.healthReasons : [];
  $("health-banner").hidden = !degraded;
  renderConn();
  const said = degraded
    ? [t("health.degraded"), ...reasons.map((r) => r.replace(/\d+(\.\d+)?/g, "#"))].join("\n")
    : "";
  if (said !== healthSaid) {
    healthSaid = said;
    $("health-title").replaceChildren(degraded ? t("health.degraded") : "");
  }
  const list = $("health-reasons");
  if (list.children.length !== reasons.length) {
    list.replaceChildren(
      ...reasons.map(() => {
        const item = el("li", "health-reason");
        item.lang = "en"; // technical English from the server, on a Chinese page too
        return item;
      }),
    );
  }
  reasons.forEach((reason, i) => setText(list.children[i], reason));
  $("health-reasons-heading").hidden = reasons.length === 0;
  $("health-no-reasons").hidden = !degraded || reasons.length > 0;
  $("health-checked").textContent =
    degraded && state.healthAt ? t("health.checked", { time: localTime(state.healthAt) }) : "";
}

// -- panel 1: today's answer rate ---------------------------------------------------------
/** A count from /api/stats/answers; "—" while the server does not send it. */
function count(total, name) {
  const value = total ? total[name] : undefined;
  return typeof value === "number" ? formatNumber(value) : "—";
}

export function renderStats() {
  const forbidden = state.statsStatus === "forbidden";
  $("rate-panel").hidden = forbidden;
  renderSide();
  if (forbidden) return;
  const limit = state.ringLimit;
  const limitVars = { limit, limit_cn: chineseNumber(limit) };
  $("rate-title").textContent = t("rate.title", limitVars);
  $("rate-rule").textContent = t("rate.rule", {
    ...limitVars,
    cycle: formatNumber(state.cycleSeconds),
  });
  // The big figure: answered within the limit ÷ rate_base (calls received, less callers who
  // hung up before the deadline and calls still ringing inside it); the denominators under it.
  const total = state.statsStatus === "ok" && state.stats ? state.stats.total : null;
  const rate = total ? total.within_limit_rate : null;
  const noRate = typeof rate !== "number";
  $("rate-value").textContent = noRate
    ? "—"
    : formatNumber(rate, { style: "percent", maximumFractionDigits: 1 });
  $("rate-value").classList.toggle("none", noRate);
  let note = "";
  if (state.statsStatus === "error") note = t("rate.error");
  else if (total && total.rate_base === 0) note = t("rate.no_calls");
  else if (total) {
    note = t("rate.basis", {
      ...limitVars,
      within: count(total, "answered_within_limit"),
      base: count(total, "rate_base"),
    });
  }
  $("rate-note").textContent = note;
  const pending = total && typeof total.pending === "number" ? total.pending : 0;
  $("rate-pending").hidden = pending === 0;
  $("rate-pending").textContent = pending
    ? t("rate.pending", { count: formatNumber(pending) })
    : "";
  for (const name of ["offered", "answered", "over_limit", "abandoned", "unanswered", "lost"]) {
    $(`count-${name.replace("_", "-")}`).textContent = count(total, name);
  }
  $("count-abandoned-in-time").textContent = t("rate.abandoned_in_time", {
    count: count(total, "abandoned_in_time"),
  });
  $("row-lost").hidden = !(total && total.lost > 0); // shown only when some were lost
  $("rate-updated").textContent = state.statsAt
    ? t("rate.updated", { time: localTime(state.statsAt) })
    : "";
}

// -- panel 1b: PBX event sources ----------------------------------------------------------
function sourceItem(source) {
  const item = el("li", "source");
  item.dataset.source = source.id;
  const knownState = Object.hasOwn(SOURCE_TONES, source.state);
  const tone = knownState ? SOURCE_TONES[source.state] : "idle";
  const knownKind = SOURCE_KINDS.includes(source.kind);
  const head = el("div", "source-head");
  const dot = el("span", `source-dot tone-${tone}`);
  dot.setAttribute("aria-hidden", "true");
  const kind = el("span", "badge source-kind", String(source.kind || "").toUpperCase());
  if (knownKind) kind.title = t(`source_kind.${source.kind}`);
  const address = el("span", "source-address mono muted", source.address || "");
  address.title = source.address || "";
  const stateText = el(
    "span",
    `source-state tone-${tone}`,
    knownState ? t(`source_state.${source.state}`) : String(source.state),
  );
  if (source.connected_since) {
    stateText.title = t("sources.since", { time: localTime(source.connected_since) });
  }
  head.append(dot, el("span", "source-id strong", source.id), kind, address, stateText);

  const perSecond = Number(source.events_per_second) || 0;
  const rate = formatNumber(perSecond, { maximumFractionDigits: perSecond < 10 ? 1 : 0 });
  const last = source.last_event_at
    ? t("sources.last_event", { time: localTime(source.last_event_at) })
    : t("sources.no_events");
  const metrics = el("div", "source-metrics muted");
  metrics.append(el("span", "metric", t("sources.rate", { rate })), el("span", "metric", last));
  const errors = el(
    "span",
    source.errors ? "metric source-errors" : "metric",
    t("sources.errors", { count: formatNumber(source.errors || 0) }),
  );
  if (source.last_error) errors.title = source.last_error;
  metrics.append(errors);
  if (source.reconnects) {
    metrics.append(
      el("span", "metric", t("sources.reconnects", { count: formatNumber(source.reconnects) })),
    );
  }
  item.append(head, metrics);
  if (source.last_error) {
    const error = el("div", "source-error", t("sources.last_error", { error: source.last_error }));
    error.title = source.last_error;
    item.append(error);
  }
  return item;
}

export function renderSources() {
  const forbidden = state.sourcesStatus === "forbidden";
  $("sources-panel").hidden = forbidden;
  renderSide();
  if (forbidden) return;
  $("source-list").replaceChildren(...state.sources.map(sourceItem));
  const empty = $("sources-empty");
  let note = "";
  if (state.sourcesStatus === "error") note = t("sources.error");
  else if (state.sourcesStatus === "ok" && state.sources.length === 0) note = t("sources.empty");
  empty.hidden = !note;
  empty.textContent = note;
  empty.classList.toggle("bad", state.sourcesStatus === "error");
  $("sources-updated").textContent = state.sourcesAt
    ? t("rate.updated", { time: localTime(state.sourcesAt) })
    : "";
}

export function tick() {
  for (const entry of state.ringing.values()) updateRingingRow(entry);
  if (state.conn === "reconnecting") renderConn();
}

export function renderAll() {
  renderHeader();
  renderConn();
  renderHealth();
  renderLine();
  renderStats();
  renderSources();
  renderRinging();
  renderViolations();
  renderNotices();
  renderAnomalies();
  renderIncidents();
}
