// The spot-check page (录音抽查, entry module): a lead's queue and scoring desk driven from the
// keyboard, the evaluations and their disputes; an agent's own evaluations (我的测评).
// The sheet is qa-score.js, the player qa-player.js, the evaluations qa-evals.js; the search
// by what was said qa-said.js.

import { bindLanguageButtons, localTime, onLanguageChange, startLanguage, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { Player } from "/static/qa-player.js";
import { showSample } from "/static/qa-score.js";
import { evals, loadEvaluations, startEvaluations } from "/static/qa-evals.js";
import { startCoverage } from "/static/qa-coverage.js";
import { loadTranscript } from "/static/transcript-view.js";
import { startSaid } from "/static/qa-said.js";

const $ = (id) => document.getElementById(id);
const state = { me: null, queue: [], at: -1, sample: null, sheet: null, item: 0, transcript: null };
let player = null;

function renderHeader() {
  $("user-name").textContent = state.me.name;
  $("user-role").textContent = t(`role.${state.me.role}`);
}

function renderPlayer() {
  const a = $("audio");
  $("play").textContent = a.paused ? t("qa.play") : t("qa.pause");
  $("speed").textContent = `${a.playbackRate}×`;
  $("skip").setAttribute("aria-pressed", String(player.skip));
}

// -- the queue ----------------------------------------------------------------------------
async function loadQueue() {
  const response = await api("/api/qa/samples?status=queued");
  state.queue = response.ok ? await response.json() : [];
  $("queue-status").textContent = response.ok ? "" : `HTTP ${response.status}`;
  const ul = $("queue-list");
  ul.replaceChildren();
  $("queue-empty").hidden = state.queue.length > 0;
  state.queue.forEach((s, i) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "qa-open";
    const reasons = (s.reasons || []).map((r) => t(`qa.reason.${r}`)).join(", ");
    for (const text of [s.agent ? s.agent.name : "—", localTime(s.call_at), s.sheet, reasons]) {
      const span = document.createElement("span");
      span.textContent = text;
      b.append(span);
    }
    b.addEventListener("click", () => openSample(i));
    li.append(b);
    ul.append(li);
  });
}

async function openSample(i) {
  const listed = state.queue[i];
  if (!listed) {
    $("scoring").hidden = true;
    $("queue-status").textContent = t("qa.queue_done");
    return;
  }
  const response = await api(`/api/qa/samples/${encodeURIComponent(listed.id)}`);
  if (!response.ok) {
    $("queue-status").textContent = `HTTP ${response.status}`;
    return;
  }
  state.at = i;
  state.sample = await response.json();
  $("scoring").hidden = false;
  $("save-status").textContent = "";
  player.load(state.sample.recording && state.sample.recording.audio_url);
  state.sheet = showSample(state.sample, listed.agent && listed.agent.name, renderTotal, playFrom);
  renderTotal();
  await showTranscript(state.sample);
  // What the transcript did not hear is what the reviewer listens for first.
  const unheard = state.sheet.firstUnheard();
  focusItem(unheard >= 0 ? unheard : 0);
}

function playFrom(seconds) {
  const a = $("audio");
  a.currentTime = Math.max(0, seconds);
  a.play().catch(() => {});
}

/** The transcript beside the player, the sheet's evidence marked in it (issue 16). */
async function showTranscript(sample) {
  if (state.transcript) state.transcript.destroy();
  state.transcript = null;
  const box = $("sample-transcript");
  const speech = sample.prefill && sample.prefill.speech;
  box.hidden = !speech || speech.state === "off" || !sample.recording;
  if (box.hidden) {
    box.replaceChildren();
    return;
  }
  const rows = state.sheet ? state.sheet.rows : [];
  state.transcript = await loadTranscript(box, sample.recording.id, $("audio"), {
    fetcher: api,
    items: speech.items,
    pollMs: 5000,
    onItem: (item) => focusItem(rows.findIndex((r) => r.item.key === item.key)),
  }).catch(() => null);
}

function renderTotal() {
  if (!state.sheet) return;
  const deducted = state.sheet.read().reduce((sum, s) => sum + s.deducted, 0);
  const total = state.sheet.total();
  $("total").textContent = t("qa.total", { score: total - deducted, total, deducted });
}

function focusItem(i) {
  const rows = state.sheet ? state.sheet.rows : [];
  if (!rows.length) return;
  state.item = Math.max(0, Math.min(rows.length - 1, i));
  rows[state.item].li.focus();
}

async function save() {
  if (!state.sample) return;
  const body = {
    scores: state.sheet.read(),
    comment: $("overall").value,
    good_example: $("good").checked,
    findings: markedFindings(),
  };
  const response = await api(`/api/qa/samples/${encodeURIComponent(state.sample.id)}/evaluation`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const err = await response.json().catch(() => ({}));
    $("save-status").textContent = err.message || `HTTP ${response.status}`;
    return;
  }
  $("save-status").textContent = t("qa.saved");
  const done = state.at;
  await loadQueue();
  await loadEvaluations();
  // The saved one left the queue: what was next now sits at the same place.
  await openSample(Math.min(done, state.queue.length - 1));
  if (!state.queue.length) $("save-status").textContent = t("qa.saved_all");
}

/** 态度不好 · 无效承诺 · 错误引导, as ticked: what no item of the sheet scores. */
function markedFindings() {
  return [...document.querySelectorAll('#findings input[name="finding"]:checked')].map((i) => i.value);
}

function toggleFinding(value) {
  const box = document.querySelector(`#findings input[value="${value}"]`);
  if (box) box.checked = !box.checked;
}

// -- keys: documented in the page's "Keys / 快捷键" box -------------------------------------
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable ||
    ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) && target.type !== "checkbox");
}

function onKey(ev) {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !$("scoring").hidden
      && $("scoring").contains(document.activeElement)) {
    ev.preventDefault();
    save();
    return;
  }
  if (ev.key === "Escape" && typing(ev.target) && state.sheet) {
    const row = ev.target.closest(".qa-item");
    if (row) row.focus();
    return;
  }
  if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  // Space and Enter keep their own meaning on a button, a link, a box or a radio.
  const native = ev.target instanceof HTMLElement &&
    (["BUTTON", "A", "SUMMARY", "AUDIO"].includes(ev.target.tagName) || ev.target.tagName === "INPUT");
  if (ev.key === " " && native) return;
  if ($("scoring").hidden || !$("scoring").contains(document.activeElement) && document.activeElement !== document.body) return;
  const rows = state.sheet ? state.sheet.rows : [];
  const onItem = document.activeElement && document.activeElement.classList.contains("qa-item");
  const handled = {
    " ": () => player.toggle(),
    ArrowLeft: () => player.seek(-5),
    ArrowRight: () => player.seek(5),
    "[": () => player.speed(-1),
    "]": () => player.speed(1),
    s: () => player.toggleSkip(),
    j: () => focusItem(state.item + 1),
    ArrowDown: () => focusItem(state.item + 1),
    k: () => focusItem(state.item - 1),
    ArrowUp: () => focusItem(state.item - 1),
    c: () => rows[state.item] && rows[state.item].com.focus(),
    o: () => $("overall").focus(),
    g: () => { $("good").checked = !$("good").checked; },
    a: () => toggleFinding("bad_attitude"),
    p: () => toggleFinding("invalid_promise"),
    w: () => toggleFinding("wrong_guidance"),
    n: () => openSample(state.at + 1),
    y: () => state.sheet && state.sheet.confirm(state.item),
  }[ev.key.length === 1 ? ev.key.toLowerCase() : ev.key];
  if (handled) {
    ev.preventDefault();
    handled();
  } else if (/^[0-9]$/.test(ev.key) && onItem) {
    ev.preventDefault();
    state.sheet.set(state.item, Number(ev.key));
  }
}

async function start() {
  let me;
  try {
    const response = await api("/api/me");
    me = await response.json();
  } catch (err) {
    if (err instanceof SignedOut) return;
    throw err;
  }
  state.me = me;
  evals.me = me;
  await startLanguage(me.language);
  bindLanguageButtons();
  onLanguageChange(() => renderHeader());
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  renderHeader();
  const lead = me.role === "team_lead" || me.role === "qa_lead";
  $("queue").hidden = !lead;
  $("evals-title").textContent = t(me.role === "agent" ? "qa.my_evaluations" : "qa.evaluations");
  player = new Player($("audio"), renderPlayer);
  renderPlayer();
  $("play").addEventListener("click", () => player.toggle());
  $("back5").addEventListener("click", () => player.seek(-5));
  $("fwd5").addEventListener("click", () => player.seek(5));
  $("speed").addEventListener("click", () => player.speed($("audio").playbackRate >= 2 ? -3 : 1));
  $("skip").addEventListener("click", () => player.toggleSkip());
  $("save").addEventListener("click", save);
  $("next").addEventListener("click", () => openSample(state.at + 1));
  for (const li of ["items"]) {
    $(li).addEventListener("focusin", (ev) => {
      const row = ev.target.closest(".qa-item");
      if (row) state.item = [...$(li).children].indexOf(row);
    });
  }
  document.addEventListener("keydown", onKey);
  $("logout").addEventListener("click", async () => {
    await api("/api/logout", { method: "POST" }).catch(() => {});
    window.location.replace("/login");
  });
  startEvaluations();
  startCoverage(me);
  startSaid(me);
  if (lead) await loadQueue();
  await loadEvaluations();
  if (lead && state.queue.length) await openSample(0);
}

start();
