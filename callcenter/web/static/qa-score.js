// The scoring sheet of one sample: the ticket as the agent typed it, each checklist item with
// its points, expected phrases, the service's pre-fill and evidence, a deduction and a
// comment; the overall comment, 闪光点 and the running total. Also used, read-write, by the
// QA lead revising a disputed evaluation (qa-evals.js).

import { language, t } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** The ticket(s) as typed, field by field, so 'recorded wrong' is judged against the call. */
export function renderTickets(box, tickets) {
  box.replaceChildren();
  if (!tickets || !tickets.length) {
    box.append(el("p", "empty", t("qa.no_ticket")));
    return;
  }
  for (const tk of tickets) {
    const dl = el("dl", "qa-ticket");
    const rows = [
      ["qa.ticket.id", tk.id],
      ["qa.ticket.name", tk.reporter_name],
      ["qa.ticket.phone", tk.phone],
      ["qa.ticket.address", tk.address],
      ["qa.ticket.station", tk.station],
      ["qa.ticket.station_proposed", tk.station_proposed],
      ["qa.ticket.category", tk.category],
      ["qa.ticket.description", tk.description],
    ];
    for (const [key, value] of rows) {
      dl.append(el("dt", null, t(key)), el("dd", null, value || "—"));
    }
    box.append(dl);
  }
}

function clockOf(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Where the transcript heard the item (`heard`: prefill.speech's item), with a button that
 * plays from there; not heard, the line is marked: that is what the reviewer listens for.
 */
function heardLine(heard, seek) {
  const p = el("p", "qa-heard small");
  const f = heard.found;
  if (!f) {
    p.classList.add("qa-unheard");
    p.append(el("strong", null, t("qa.heard.not")));
    return p;
  }
  const go = el("button", "ghost qa-seek", `▶ ${clockOf(f.start)}`);
  go.type = "button";
  go.setAttribute("aria-label", t("qa.heard.seek", { time: clockOf(f.start) }));
  go.addEventListener("click", () => seek && seek(f.start));
  p.append(
    el("span", null, t("qa.heard.at")), " ", go, " ",
    el("q", null, f.heard), " ",
    el("span", "muted", t("qa.heard.how", { how: t(`tx.how.${f.how}`), confidence: Math.round(f.confidence * 100) })),
  );
  if (f.missing && f.missing.length) {
    p.append(" ", el("span", "qa-missing", t("qa.heard.missing", { clauses: f.missing.join(" / ") })));
  }
  return p;
}

/**
 * A sheet in `list`: items [{key, points, zh, en, phrases}], with the starting deductions
 * `start` {key: {deducted, comment, evidence, prefilled, heard, suggested}}: `heard` is where
 * the transcript heard the item, `suggested` its suggested deduction, which counts only once
 * the reviewer confirms it (Y on the item, or the box) or scores the item otherwise.
 * Returns {read(), set(i, v), confirm(i), …}.
 */
export function renderItems(list, items, start, onTotal, seek) {
  list.replaceChildren();
  const rows = items.map((item, i) => {
    const given = start[item.key] || {};
    const li = el("li", "qa-item");
    li.tabIndex = 0;
    li.dataset.key = item.key;
    const head = el("div", "qa-item-head");
    const other = language() === "zh-CN" ? item.en : item.zh;
    head.append(
      el("span", "qa-points", t("qa.points", { points: item.points })),
      el("strong", null, language() === "zh-CN" ? item.zh : item.en),
      el("span", "muted small", other),
    );
    li.append(head);
    if (item.phrases && item.phrases.length) {
      li.append(el("p", "small qa-phrases", `${t("qa.phrases")} ${item.phrases.join(" / ")}`));
    }
    if (given.evidence) {
      const ev = el("p", "qa-evidence small");
      ev.append(
        el("span", "qa-prefilled", t("qa.prefilled", { deducted: given.prefill ?? given.deducted })),
        " ",
        el("span", null, given.evidence),
      );
      li.append(ev);
    }
    if (given.heard) li.append(heardLine(given.heard, seek));
    const fields = el("div", "qa-item-fields");
    const dedId = `ded-${i}`;
    const comId = `com-${i}`;
    const dedLabel = el("label", null, t("qa.deducted"));
    dedLabel.htmlFor = dedId;
    const ded = el("input", "qa-deducted");
    Object.assign(ded, { id: dedId, type: "number", min: 0, max: item.points, step: 1 });
    ded.value = String(given.deducted || 0);
    ded.addEventListener("input", onTotal);
    const comLabel = el("label", null, t("qa.item_comment"));
    comLabel.htmlFor = comId;
    const com = el("input", "qa-comment");
    Object.assign(com, { id: comId, type: "text", maxLength: 500 });
    com.value = given.comment || "";
    fields.append(dedLabel, ded, comLabel, com);
    let ok = null;
    if (given.suggested !== undefined && given.suggested !== null) {
      // The transcript's suggestion is the reviewer's only once confirmed; a different
      // deduction is an override and needs no box.
      const label = el("label", "qa-confirm");
      ok = el("input");
      Object.assign(ok, { type: "checkbox", id: `ok-${i}` });
      label.append(ok, " ", el("span", null, t("qa.heard.confirm", { deducted: given.suggested })), " ", el("kbd", null, "Y"));
      const mark = () => {
        const same = (parseInt(ded.value, 10) || 0) === given.suggested;
        li.classList.toggle("qa-to-confirm", same && !ok.checked);
        label.hidden = !same;
      };
      ok.addEventListener("change", mark);
      ded.addEventListener("input", mark);
      fields.append(label);
      mark();
    }
    li.append(fields);
    list.append(li);
    return { item, li, ded, com, ok, suggested: given.suggested };
  });
  const sync = (r) => r.ok && r.ok.dispatchEvent(new Event("change"));
  return {
    rows,
    set(i, value) {
      const r = rows[i];
      r.ded.value = String(Math.max(0, Math.min(r.item.points, value)));
      r.ded.dispatchEvent(new Event("input"));
    },
    confirm(i) {
      const r = rows[i];
      if (!r || !r.ok || r.ok.closest("label").hidden) return;
      r.ok.checked = !r.ok.checked;
      sync(r);
    },
    /** The first item the transcript did not hear, or -1. */
    firstUnheard() {
      return rows.findIndex((r) => r.li.querySelector(".qa-unheard"));
    },
    read() {
      return rows.map((r) => ({
        key: r.item.key,
        deducted: Math.max(0, Math.min(r.item.points, parseInt(r.ded.value, 10) || 0)),
        comment: r.com.value.trim(),
        confirmed: Boolean(r.ok && r.ok.checked),
      }));
    },
    total() {
      return rows.reduce((sum, r) => sum + r.item.points, 0);
    },
  };
}

/**
 * The sample on the desk: player source, ticket, items pre-filled from the ticket and from
 * where the transcript heard the script (`seek(seconds)` plays from a mark). Returns the sheet.
 */
export function showSample(sample, agent, onTotal, seek) {
  $("sample-title").textContent = t("qa.sample_title", {
    agent: agent || "—",
    sheet: sample.checklist ? (language() === "zh-CN" ? sample.checklist.zh : sample.checklist.en) : sample.sheet,
  });
  const facts = sample.prefill && sample.prefill.call;
  $("sample-facts").textContent = facts && facts.evidence ? facts.evidence : "";
  const opening = sample.prefill && sample.prefill.opening;
  $("sample-opening").textContent = opening ? t("qa.opening", { text: opening.greeting }) : "";
  renderTickets($("sample-ticket"), sample.tickets);
  const start = {};
  for (const p of (sample.prefill && sample.prefill.items) || []) {
    start[p.key] = { deducted: p.deducted, prefill: p.deducted, evidence: p.evidence };
  }
  const speech = sample.prefill && sample.prefill.speech;
  for (const h of (speech && speech.items) || []) {
    const given = start[h.key] || {};
    start[h.key] = { ...given, heard: h, suggested: h.suggested };
    // The ticket's own suggestion, where there is one, stays the starting value.
    if (h.suggested !== null && given.prefill === undefined) start[h.key].deducted = h.suggested;
  }
  $("overall").value = "";
  $("good").checked = false;
  for (const box of document.querySelectorAll('#findings input[name="finding"]')) box.checked = false;
  return renderItems($("items"), sample.checklist ? sample.checklist.items : [], start, onTotal, seek);
}
