// The hotline as the line probe (拨测) sees it: a red banner while its calls to the hotline
// fail (line_down), gone when one passes again (line_up). From the snapshot's `line` (null:
// no probe runs in this service) and the line_down / line_up messages; no I/O.

import { localTime, t } from "/static/i18n.js";
import { $, setText, state } from "/static/live-state.js";

const OUTCOMES = ["no_ring", "no_answer", "refused", "no_response", "not_registered"];

/** The snapshot's `line`: {state, number, since, last: a probe result or null} or null. */
export function lineSnapshot(line) {
  state.line =
    line && typeof line === "object"
      ? {
          state: line.state,
          number: line.number,
          since: line.since,
          outcome: line.last ? line.last.outcome : null,
          status: line.last ? line.last.sip_status : null,
        }
      : null;
  renderLine();
}

/** A line_down or line_up message (the same payload as MQTT's callcenter/alerts/line). */
export function lineMessage(msg) {
  state.line = {
    state: msg.type === "line_down" ? "down" : "up",
    number: msg.number,
    since: msg.type === "line_down" ? msg.since : msg.raised_at,
    outcome: msg.outcome,
    status: msg.sip_status,
  };
  renderLine();
}

export function renderLine() {
  const line = state.line;
  const down = Boolean(line && line.state === "down");
  $("line-banner").hidden = !down;
  if (!down) return;
  setText($("line-title"), t("line.down", { number: line.number || "" }));
  const outcome = OUTCOMES.includes(line.outcome) ? line.outcome : "unknown";
  setText(
    $("line-detail"),
    t("line.since", {
      time: localTime(line.since),
      outcome: t(`line.outcome.${outcome}`, { status: line.status ?? "" }),
    }),
  );
}
