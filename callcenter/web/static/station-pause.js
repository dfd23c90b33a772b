// The station portal's wait on the resident (暂停计时): pause an accepted order with the reason
// (not at home, call later, no access, other with a note) and resume it; while it waits its
// contact and repair deadlines stand still and move by the wait when it ends (a contact or a
// return ends it too). The reason of the open pause is read from the order's history.

import { localTime, t } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
// Statuses a station may pause (orders/model.py PAUSABLE_STATUSES): it took the order.
const PAUSABLE = ["accepted", "contacted"];

/** "45 min" / "1 h 5 min" of a pause's length. */
function minutes(seconds) {
  const m = Math.max(1, Math.round((Number(seconds) || 0) / 60));
  const h = Math.floor(m / 60);
  return h ? t("portal.hm", { h, m: m % 60 }) : t("portal.m", { m });
}

function reasonText(code) {
  return code ? t(`pause.reason.${code}`) : "";
}

/** The words of a "paused" or "resumed" history line beyond its action and who. */
export function pauseWords(entry) {
  const parts = [reasonText(entry.reason)];
  if (entry.note) parts.push(entry.note);
  if (entry.action === "resumed" && entry.paused_seconds !== undefined) {
    parts.push(t("portal.paused_for", { time: minutes(entry.paused_seconds) }));
  }
  // Ended by the station's step (contact, return, refuse) or the hotline's recall.
  if (entry.ended_by) {
    parts.push(t(`portal.action.${entry.ended_by === "recall" ? "recalled" : entry.ended_by}`));
  }
  return parts.filter(Boolean);
}

function openReason(order) {
  const paused = (order.history || []).filter((e) => e.action === "paused");
  return paused.length ? paused[paused.length - 1].reason : null;
}

/** Show the pause form on an order the station may pause, the resume button on a paused one. */
export function renderPause(order) {
  const paused = Boolean(order.paused_since);
  $("pause-form").hidden = paused || !PAUSABLE.includes(order.status);
  $("resume-box").hidden = !paused;
  $("paused-line").textContent = paused
    ? t("portal.paused_since", {
        time: localTime(order.paused_since),
        reason: reasonText(openReason(order)),
      })
    : "";
}

/** Wire the form and the button once; `act(action, body)` posts the step. */
export function startPause(act) {
  $("pause-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const note = $("pause-note").value.trim();
    act("pause", { reason: $("pause-reason").value, note: note || undefined });
  });
  $("resume").addEventListener("click", () => act("resume", {}));
}
