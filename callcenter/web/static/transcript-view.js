// A recording's transcript (通话转写, issue 16) beside its player: every character plays from
// where it was said, the phrases the checklist listened for are marked in the text and on a
// timeline, what was NOT heard is listed first (what a reviewer should listen for), and the
// character being said lights up as the audio plays. Shared by the desk and the QA page.

import { language, onLanguageChange, t } from "/static/i18n.js";
import { languageName, renderNoTranscript } from "/static/transcript-states.js";

export { noTranscriptText, renderNoTranscript } from "/static/transcript-states.js";

const EPSILON = 0.002; // the findings' times are the characters' own, rounded to 1 ms
const MOST_HITS = 30; // search hits marked on the timeline: past that they are a smear
const live = new Set(); // views shown, redrawn when the language changes

onLanguageChange(() => {
  for (const view of [...live]) {
    if (view.box.isConnected) view.draw();
    else view.destroy();
  }
});

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** 75.4 → "1:15": the time a person reads off a player. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** An item's name in the page's language. */
export function itemName(item) {
  return (language() === "zh-CN" ? item.zh : item.en) || item.zh || item.en || item.key;
}

function play(audio, seconds) {
  if (!audio) return;
  audio.currentTime = Math.max(0, seconds);
  const playing = audio.play();
  if (playing) playing.catch(() => {}); // no source yet, or the browser wants a gesture
}

/** Where each of `words` occurs in the text, as [first, last] character indexes. */
function hitsOf(chars, words) {
  const needle = (words || "").trim();
  if (!needle) return [];
  const offsets = []; // the text offset each character starts at
  let text = "";
  for (const [c] of chars) {
    offsets.push(text.length);
    text += c;
  }
  const charAt = (offset) => {
    let lo = 0;
    let hi = offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const found = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    found.push([charAt(at), charAt(at + needle.length - 1)]);
  }
  return found;
}

class View {
  constructor(box, transcript, items, audio, options) {
    this.box = box;
    this.transcript = transcript;
    this.items = items;
    this.audio = audio;
    this.options = options;
    this.chars = transcript.chars || [];
    this.hits = hitsOf(this.chars, options.highlight);
    this.spans = [];
    this.now = -1; // the character being said
    this.cursor = -1; // the character the keyboard chose
    this.onTime = () => this.follow();
    if (audio) {
      for (const ev of ["timeupdate", "seeked", "loadedmetadata"]) audio.addEventListener(ev, this.onTime);
      // Without the transcript's own length the timeline waits for the player's.
      if (!(Number(transcript.duration_seconds) > 0)) {
        this.onLength = () => this.box.isConnected && this.draw();
        audio.addEventListener("durationchange", this.onLength);
      }
    }
    for (const view of [...live]) if (!view.box.isConnected) view.destroy(); // gone with its page part
    live.add(this);
  }

  duration() {
    const d = Number(this.transcript.duration_seconds);
    if (d > 0) return d;
    return this.audio && Number.isFinite(this.audio.duration) ? this.audio.duration : 0;
  }

  seek(seconds, item = null) {
    play(this.audio, seconds);
    if (item && this.options.onItem) this.options.onItem(item);
  }

  draw() {
    const wrap = el("div", "transcript");
    const heading = el(this.options.heading || "h4", "tx-title", t("tx.title"));
    wrap.append(heading);
    if (Array.isArray(this.items)) wrap.append(this.findings());
    wrap.append(this.timeline(), this.text(), this.meta());
    this.box.replaceChildren(wrap);
    this.now = -1;
    this.follow();
  }

  /** Not heard first (what to listen for), then what was heard, where and how surely. */
  findings() {
    const section = el("div", "tx-findings");
    const missed = this.items.filter((i) => !i.found);
    const heard = this.items.filter((i) => i.found).sort((a, b) => a.found.start - b.found.start);
    if (missed.length) {
      section.append(el("p", "tx-missed-title", t("tx.not_heard")));
      const ul = el("ul", "tx-missed");
      for (const item of missed) {
        const li = el("li", "tx-missed-item");
        li.dataset.key = item.key;
        if (this.options.onItem) {
          // The page has the item elsewhere (the QA sheet's row): the name leads there.
          const button = el("button", "tx-item", itemName(item));
          button.type = "button";
          button.addEventListener("click", () => this.options.onItem(item));
          li.append(button);
        } else li.append(itemName(item));
        if (item.points) li.append(" ", el("span", "muted small", t("tx.points", { points: item.points })));
        ul.append(li);
      }
      section.append(ul);
    } else if (heard.length) {
      section.append(el("p", "tx-all-heard", t("tx.all_heard")));
    }
    if (heard.length) {
      const ul = el("ul", "tx-heard");
      ul.setAttribute("aria-label", t("tx.heard"));
      for (const item of heard) ul.append(this.heardItem(item));
      section.append(ul);
    }
    return section;
  }

  heardItem(item) {
    const f = item.found;
    const li = el("li", "tx-heard-item");
    li.dataset.key = item.key;
    const button = el("button", "tx-item", itemName(item));
    button.type = "button";
    button.setAttribute("aria-label", t("tx.mark", { name: itemName(item), time: clock(f.start) }));
    button.addEventListener("click", () => this.seek(f.start, item));
    const facts = [
      clock(f.start),
      t("tx.confidence", { percent: Math.round((Number(f.confidence) || 0) * 100) }),
      t(`tx.how.${f.how}`),
    ];
    const clauses = Number(f.clauses) || 1;
    const missing = f.missing || [];
    if (clauses > 1) facts.push(t("tx.clauses", { heard: clauses - missing.length, clauses }));
    li.append(button, " ", el("span", "tx-facts small", facts.join(" · ")));
    if (f.heard && f.heard !== f.phrase) li.append(el("span", "tx-said small", `“${f.heard}”`));
    if (missing.length) li.append(el("span", "tx-missing small", t("tx.missing", { parts: missing.join(" / ") })));
    return li;
  }

  /** A bar as long as the recording: a button per phrase found (and per search hit). */
  timeline() {
    const bar = el("div", "tx-timeline");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", t("tx.timeline"));
    const track = el("div", "tx-track");
    track.setAttribute("aria-hidden", "true"); // the player and the marks do this by keyboard
    this.progress = el("div", "tx-progress");
    track.append(this.progress);
    track.addEventListener("click", (ev) => {
      const d = this.duration();
      const box = track.getBoundingClientRect();
      if (d && box.width) this.seek(((ev.clientX - box.left) / box.width) * d);
    });
    const marks = el("div", "tx-marks");
    const d = this.duration();
    const at = (seconds) => `${d ? Math.min(100, Math.max(0, (seconds / d) * 100)) : 0}%`;
    for (const item of Array.isArray(this.items) ? this.items : []) {
      if (!item.found) continue;
      const name = t("tx.mark", { name: itemName(item), time: clock(item.found.start) });
      const mark = el("button", "tx-mark");
      mark.type = "button";
      mark.dataset.key = item.key;
      mark.title = name;
      mark.setAttribute("aria-label", name);
      mark.style.left = at(item.found.start);
      mark.addEventListener("click", () => this.seek(item.found.start, item));
      marks.append(mark);
    }
    for (const [first] of this.hits.slice(0, MOST_HITS)) {
      const start = this.chars[first][1];
      const name = t("tx.hit_mark", { words: this.options.highlight.trim(), time: clock(start) });
      const mark = el("button", "tx-mark tx-mark-hit");
      mark.type = "button";
      mark.title = name;
      mark.setAttribute("aria-label", name);
      mark.style.left = at(start);
      mark.addEventListener("click", () => this.seek(start));
      marks.append(mark);
    }
    bar.append(track, marks);
    return bar;
  }

  /** The words: a span per character, found phrases and search hits wrapped in <mark>. */
  text() {
    const p = el("p", "tx-text");
    p.lang = "zh-CN";
    p.tabIndex = 0;
    p.setAttribute("aria-label", t("tx.text_label"));
    this.textBox = p;
    if (!this.chars.length) {
      p.textContent = t("tx.empty");
      return p;
    }
    const names = this.chars.map(() => []);
    for (const item of Array.isArray(this.items) ? this.items : []) {
      const f = item.found;
      if (!f) continue;
      this.chars.forEach(([, start, end], i) => {
        if (start >= f.start - EPSILON && end <= f.end + EPSILON) names[i].push(itemName(item));
      });
    }
    const hit = new Array(this.chars.length).fill(false);
    for (const [first, last] of this.hits) hit.fill(true, first, last + 1);
    this.spans = [];
    let run = null;
    let runKey = "";
    this.chars.forEach(([c, start], i) => {
      const span = el("span", "tx-char", c);
      span.dataset.i = String(i);
      this.spans.push(span);
      const key = names[i].length || hit[i] ? `${names[i].join("、")}|${hit[i]}` : "";
      if (key !== runKey) {
        run = null;
        runKey = key;
        if (key) {
          run = el("mark", [names[i].length ? "tx-found" : "", hit[i] ? "tx-hit" : ""].join(" ").trim());
          if (names[i].length) run.title = names[i].join("、");
          p.append(run);
        }
      }
      (run || p).append(span);
    });
    p.addEventListener("click", (ev) => {
      const span = ev.target.closest(".tx-char");
      if (!span) return;
      this.setCursor(Number(span.dataset.i));
      this.seek(this.chars[Number(span.dataset.i)][1]);
    });
    p.addEventListener("keydown", (ev) => this.onKey(ev));
    p.addEventListener("focus", () => {
      if (this.cursor < 0) this.setCursor(Math.max(0, this.now));
    });
    return p;
  }

  /** ← → one character, Home/End, Enter or Space plays from the chosen one. */
  onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const last = this.chars.length - 1;
    const moves = {
      ArrowLeft: this.cursor - 1,
      ArrowRight: this.cursor + 1,
      ArrowUp: this.cursor - 10,
      ArrowDown: this.cursor + 10,
      Home: 0,
      End: last,
    };
    if (ev.key in moves) this.setCursor(Math.max(0, Math.min(last, moves[ev.key])));
    else if ((ev.key === "Enter" || ev.key === " ") && this.cursor >= 0) this.seek(this.chars[this.cursor][1]);
    else return;
    // The QA desk binds these keys on the document (seek, play): here they mean the text's.
    ev.preventDefault();
    ev.stopPropagation();
  }

  setCursor(i) {
    if (this.spans[this.cursor]) this.spans[this.cursor].classList.remove("tx-cursor");
    this.cursor = i;
    const span = this.spans[i];
    if (!span) return;
    span.classList.add("tx-cursor");
    this.keepVisible(span);
    // A screen reader hears the chosen character and its time (the spans are not focusable).
    const [c, start] = this.chars[i];
    this.status.textContent = `${c} ${clock(start)}`;
  }

  meta() {
    const tr = this.transcript;
    const p = el("p", "tx-meta muted small");
    this.status = el("span", "tx-status");
    this.status.setAttribute("aria-live", "polite");
    const probability = Math.round((Number(tr.language_probability) || 0) * 100);
    p.append(
      t("tx.meta", { language: languageName(tr.language), probability, model: tr.model || "?" }),
      this.status,
    );
    return p;
  }

  keepVisible(span) {
    // The text scrolls in its own box: the page itself never jumps while audio plays.
    const box = this.textBox;
    if (!box || box.scrollHeight <= box.clientHeight) return;
    const top = span.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + span.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }

  /** The character being said: the last one that started by now. */
  follow() {
    if (!this.audio || !this.box.isConnected) return;
    const time = this.audio.currentTime;
    const d = this.duration();
    if (this.progress) this.progress.style.width = `${d ? Math.min(100, (time / d) * 100) : 0}%`;
    let lo = 0;
    let hi = this.chars.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.chars[mid][1] <= time + EPSILON) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (at >= 0 && time > this.chars[at][2] + 1) at = -1; // a pause: nothing is being said
    if (at === this.now) return;
    if (this.spans[this.now]) this.spans[this.now].classList.remove("tx-now");
    this.now = at;
    if (this.spans[at]) {
      this.spans[at].classList.add("tx-now");
      if (!this.audio.paused) this.keepVisible(this.spans[at]);
    }
  }

  destroy() {
    live.delete(this);
    if (this.audio) {
      for (const ev of ["timeupdate", "seeked", "loadedmetadata"]) this.audio.removeEventListener(ev, this.onTime);
      if (this.onLength) this.audio.removeEventListener("durationchange", this.onLength);
    }
  }
}

/**
 * Show `transcript` (GET /api/recordings/{id}/transcript's body) in `box`, tied to `audio`.
 * `items`: the checklist items with their `found` evidence (null: none were listened for;
 * undefined: the transcript's own `findings.items`). Options: `onItem(item)` when an item is
 * chosen (a found one seeks first; with onItem a missed one is a button too), `highlight`
 * words to mark in the text and on the timeline (a search), `heading` tag (default h4).
 * Returns {seek(seconds), hits: [seconds], destroy()}; destroy() before the box is reused.
 */
export function renderTranscript(box, transcript, items, audio, options = {}) {
  const own = transcript.findings && Array.isArray(transcript.findings.items) ? transcript.findings.items : null;
  const view = new View(box, transcript, items === undefined ? own : items, audio, options);
  view.draw();
  return {
    seek: (seconds) => view.seek(seconds),
    hits: view.hits.map(([first]) => view.chars[first][1]),
    destroy: () => view.destroy(),
  };
}

/**
 * Fetch and show a recording's transcript in `box`: a 404 shows why there is none (and, while
 * queued or running, asks again every `pollMs`), a 403 shows nothing. `fetcher` is the page's
 * fetch (desk-api.js `api`). Other options as renderTranscript. Resolves to its handle or null.
 */
export async function loadTranscript(box, recordingId, audio, options = {}) {
  const { fetcher = fetch, items, pollMs = 0 } = options;
  const response = await fetcher(`/api/recordings/${encodeURIComponent(recordingId)}/transcript`);
  if (response.ok) return renderTranscript(box, await response.json(), items, audio, options);
  if (response.status === 403) {
    box.replaceChildren();
    return null;
  }
  const body = await response.json().catch(() => null);
  if (response.status === 404 && body && body.error === "no-transcript") {
    renderNoTranscript(box, body);
    if (pollMs > 0 && (body.state === "queued" || body.state === "running")) {
      setTimeout(() => {
        if (box.isConnected) loadTranscript(box, recordingId, audio, options).catch(() => {});
      }, pollMs);
    }
    return null;
  }
  box.replaceChildren(el("p", "tx-none muted small", t("tx.unavailable", { status: response.status })));
  return null;
}
