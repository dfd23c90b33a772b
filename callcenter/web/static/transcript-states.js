// Why a recording has no transcript (yet), in words: queued, being made, skipped (no speech,
// another language: named), failed (the reason), or never queued. Part of transcript-view.js,
// which re-exports it.

import { language, t } from "/static/i18n.js";

/** "yue" → 粤语 / Cantonese, in the page's language. */
export function languageName(code) {
  if (!code) return "?";
  try {
    return new Intl.DisplayNames([language()], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

/** Why there is no transcript: the 404 `no-transcript` body ({state, job}) in words. */
export function noTranscriptText(body) {
  const job = (body && body.job) || {};
  const state = body ? body.state : null;
  const [code, ...rest] = String(job.reason || "").split(": ");
  const detail = rest.join(": ");
  if (state === "queued") return t("tx.state.queued");
  if (state === "running") return t("tx.state.running");
  if (state === "skipped") {
    if (code === "not-mandarin") return t("tx.state.not_mandarin", { language: languageName(job.language) });
    if (code === "no-speech") return t("tx.state.no_speech");
    return t("tx.state.skipped", { reason: job.reason || "?" });
  }
  if (state === "failed") {
    const known = ["corrupt-audio", "worker-died", "abandoned"].includes(code);
    return t("tx.state.failed", { reason: known ? t(`tx.reason.${code}`) : detail || code || "?" });
  }
  return t("tx.state.none");
}

/** The no-transcript state in `box`, as one line. */
export function renderNoTranscript(box, body) {
  const p = document.createElement("p");
  p.className = `tx-none muted small tx-state-${(body && body.state) || "none"}`;
  p.textContent = noTranscriptText(body);
  p.setAttribute("role", "status");
  box.replaceChildren(p);
}
