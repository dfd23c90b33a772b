// Evaluations: the list (a QA lead's disputed ones first), one evaluation with its recording,
// items, comments and history; the agent signs (签字确认) or disputes with a comment, the QA
// lead upholds or revises a dispute.

import { localTime, t } from "/static/i18n.js";
import { api } from "/static/desk-api.js";
import { renderItems } from "/static/qa-score.js";

const $ = (id) => document.getElementById(id);
const ORDER = { disputed: 0, open: 1, acknowledged: 2, revised: 3, upheld: 4 };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export const evals = { me: null, list: [], current: null, sheet: null, player: null };

async function errorText(response) {
  try {
    const body = await response.json();
    return body.message || body.error || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

export async function loadEvaluations() {
  const me = evals.me;
  const query = me.role === "agent" ? `?agent=${encodeURIComponent(me.name)}` : "";
  const response = await api(`/api/qa/evaluations${query}`);
  if (!response.ok) {
    $("evals-status").textContent = await errorText(response);
    return;
  }
  const rows = await response.json();
  // The QA lead answers disputes: they come first, for everyone else too.
  rows.sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9));
  evals.list = rows;
  renderList();
}

function renderList() {
  const ul = $("evals-list");
  ul.replaceChildren();
  $("evals-empty").hidden = evals.list.length > 0;
  for (const e of evals.list) {
    const li = el("li", "qa-row");
    const button = el("button", "qa-open");
    button.type = "button";
    button.dataset.id = e.id;
    button.append(
      el("span", `qa-status qa-status-${e.status}`, t(`qa.status.${e.status}`)),
      el("span", null, e.agent || "—"),
      el("span", "muted small", localTime(e.scored_at)),
      el("span", "small", t("qa.deducted_sum", { deducted: e.deducted, points: e.points ?? "?" })),
    );
    button.addEventListener("click", () => openEvaluation(e.id));
    li.append(button);
    ul.append(li);
  }
}

export async function openEvaluation(id) {
  const response = await api(`/api/qa/evaluations/${encodeURIComponent(id)}`);
  if (!response.ok) {
    $("evals-status").textContent = await errorText(response);
    return;
  }
  show(await response.json());
}

function show(e) {
  evals.current = e;
  const box = $("eval-detail");
  box.hidden = false;
  $("eval-title").textContent = t("qa.eval_title", { agent: e.agent || "—", status: t(`qa.status.${e.status}`) });
  $("eval-audio").src = e.audio_url;
  $("eval-total").textContent = t("qa.deducted_sum", { deducted: e.deducted, points: e.points ?? "?" });
  $("eval-good").hidden = !e.good_example;
  $("eval-comment").textContent = e.comment || "—";
  const resolving = evals.me.role === "qa_lead" && e.status === "disputed";
  const start = {};
  for (const s of e.scores) start[s.key] = s;
  const items = e.scores.map((s) => ({ key: s.key, points: s.points ?? 0, zh: s.zh || s.key, en: s.en || s.key, phrases: [] }));
  evals.sheet = renderItems($("eval-items"), items, start, () => {});
  for (const r of evals.sheet.rows) {
    r.ded.readOnly = !resolving;
    r.com.readOnly = !resolving;
  }
  const history = $("eval-history");
  history.replaceChildren();
  for (const h of e.history || []) {
    const li = el("li");
    li.append(
      el("span", "muted small", localTime(h.at)),
      " ",
      el("strong", null, `${t(`qa.action.${h.action}`)} · ${h.by}`),
      " ",
      el("span", null, h.comment || ""),
    );
    history.append(li);
  }
  const agentMay = evals.me.role === "agent" && e.status === "open";
  $("agent-actions").hidden = !agentMay;
  $("resolve-form").hidden = !resolving;
  $("eval-status").textContent = "";
  $("eval-title").focus();
}

async function post(path, body) {
  const e = evals.current;
  const response = await api(`/api/qa/evaluations/${encodeURIComponent(e.id)}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    $("eval-status").textContent = await errorText(response);
    return;
  }
  show(await response.json());
  $("eval-status").textContent = t("qa.done");
  await loadEvaluations();
}

export function startEvaluations() {
  $("acknowledge").addEventListener("click", () => post("acknowledge", {}));
  $("dispute-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    post("dispute", { comment: $("dispute-comment").value });
  });
  $("resolve-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const decision = document.querySelector("input[name=decision]:checked").value;
    const body = { decision, comment: $("resolve-comment").value };
    if (decision === "revise") body.scores = evals.sheet.read();
    post("resolve", body);
  });
}
