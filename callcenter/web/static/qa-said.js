// Search what was said (按内容搜索录音, issue 16): the recordings in whose transcript the words
// were heard, newest first (GET /api/recordings?said=, audited), each opened in place with
// its player, starting where the words were first said, and its transcript, the words marked.

import { localTime, t } from "/static/i18n.js";
import { api, SignedOut } from "/static/desk-api.js";
import { clock, loadTranscript } from "/static/transcript-view.js";

// The roles GET /api/recordings?said= answers (recordings/model.py SEARCHERS).
const SEARCHERS = ["qa_lead", "supervisor", "admin"];
const PAGE = 20;

const $ = (id) => document.getElementById(id);
const state = { words: "", next: null, open: null };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** `text` with every `words` in a <mark>, built from text nodes (never HTML). */
function marked(text, words) {
  const out = [];
  let from = 0;
  for (let at = text.indexOf(words); words && at >= 0; at = text.indexOf(words, from)) {
    out.push(text.slice(from, at), el("mark", "tx-hit", words));
    from = at + words.length;
  }
  out.push(text.slice(from));
  return out;
}

function nextLink(response) {
  const link = response.headers.get("Link") || "";
  const found = /<([^>]+)>;\s*rel="next"/.exec(link);
  return found ? found[1] : null;
}

async function search(url, more) {
  $("said-status").textContent = t("qa.said.searching");
  let response;
  try {
    response = await api(url);
  } catch (err) {
    if (!(err instanceof SignedOut)) $("said-status").textContent = t("qa.said.failed", { status: "—" });
    return;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $("said-status").textContent = body.message || t("qa.said.failed", { status: response.status });
    return;
  }
  const found = await response.json();
  state.next = nextLink(response);
  if (!more) {
    close();
    $("said-list").replaceChildren();
  }
  for (const r of found) $("said-list").append(resultItem(r));
  const count = $("said-list").children.length;
  $("said-status").textContent = count
    ? t(state.next ? "qa.said.found_more" : "qa.said.found", { count, words: state.words })
    : t("qa.said.none", { words: state.words });
  $("said-more").hidden = !state.next;
}

function agentText(r) {
  if (!r.agent) return t("qa.said.no_agent");
  return r.agent.work_number ? `${r.agent.name} (${r.agent.work_number})` : r.agent.name;
}

function resultItem(r) {
  const li = el("li", "qa-said-item");
  li.dataset.id = r.id;
  const b = el("button", "qa-open qa-said-open");
  b.type = "button";
  b.setAttribute("aria-expanded", "false");
  const when = el("time", null, localTime(r.received_at));
  when.dateTime = r.received_at;
  const said = r.said || {};
  b.append(
    when,
    el("span", null, agentText(r)),
    el("span", "muted", t("qa.said.duration", { time: clock(r.duration_seconds) })),
    el("span", "muted", t("qa.said.at", { time: clock(said.at) })),
  );
  const snippet = el("span", "qa-said-snippet");
  snippet.lang = "zh-CN";
  snippet.append(...marked(said.snippet || "", state.words));
  b.append(snippet);
  b.addEventListener("click", () => (state.open && state.open.li === li ? close() : open(li, r, b)));
  li.append(b);
  return li;
}

function close() {
  const shown = state.open;
  if (!shown) return;
  state.open = null;
  if (shown.handle) shown.handle.destroy();
  shown.audio.pause();
  shown.detail.remove();
  shown.button.setAttribute("aria-expanded", "false");
}

/** The recording opened under its line: the player waits where the words were first said. */
async function open(li, r, button) {
  close();
  const detail = el("div", "qa-said-detail");
  const audio = el("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.setAttribute("aria-label", t("qa.said.player", { time: localTime(r.received_at) }));
  const at = Math.max(0, ((r.said && r.said.at) || 0) - 0.3); // a breath before the words
  audio.addEventListener("loadedmetadata", () => { audio.currentTime = at; }, { once: true });
  audio.src = r.audio_url || "";
  const from = el("button", "ghost", t("qa.said.play_from", { time: clock(at) }));
  from.type = "button";
  from.addEventListener("click", () => {
    audio.currentTime = at;
    audio.play().catch(() => {});
  });
  const box = el("div", "qa-said-transcript");
  detail.append(audio, from, box);
  li.append(detail);
  button.setAttribute("aria-expanded", "true");
  const shown = { li, detail, audio, button, handle: null };
  state.open = shown;
  try {
    shown.handle = await loadTranscript(box, r.id, audio, { fetcher: api, highlight: state.words });
    if (state.open !== shown && shown.handle) shown.handle.destroy();
  } catch (err) {
    if (!(err instanceof SignedOut)) console.warn("loading the transcript failed", err);
  }
}

/** Shown to the roles that may search; the search box and its results. */
export function startSaid(me) {
  const panel = $("said");
  panel.hidden = !SEARCHERS.includes(me.role);
  if (panel.hidden) return;
  $("said-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const words = $("said-words").value.trim();
    if (!words) return;
    state.words = words;
    search(`/api/recordings?said=${encodeURIComponent(words)}&limit=${PAGE}`, false);
  });
  $("said-more").addEventListener("click", () => {
    if (state.next) search(state.next, true);
  });
}
