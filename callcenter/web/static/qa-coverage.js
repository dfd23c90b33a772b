// Spot-check coverage (抽查覆盖) on the spot-check page: per agent, the recordings checked this
// week and this month against the rule (录音抽查制度: team leads daily, the QA lead weekly), from
// GET /api/qa/coverage; those behind the rule first. Shown to the roles that API allows.

import { language, onLanguageChange, t } from "/static/i18n.js";
import { api } from "/static/desk-api.js";

// The roles GET /api/qa/coverage answers (qa/model.py QA_READERS); an agent gets a 403.
const READERS = ["team_lead", "qa_lead", "supervisor", "admin"];
const CELLS = [["week", "daily"], ["week", "weekly"], ["month", "daily"], ["month", "weekly"]];

const $ = (id) => document.getElementById(id);
const state = { body: null, sort: "behind", descending: true };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** How many recordings a cell still lacks: 0 when the rule is kept. */
function short(row, [window, scope]) {
  const c = row[window][scope];
  return Math.max(0, c.expected - c.checked);
}

function shortfall(row) {
  return CELLS.reduce((sum, cell) => sum + short(row, cell), 0);
}

const byName = (a, b) => a.agent.name.localeCompare(b.agent.name, language());

/** Behind the rule first (the most recordings lacking), or by the column the user chose. */
function sorted(rows) {
  const sign = state.descending ? -1 : 1;
  const cell = CELLS.find((c) => c.join(".") === state.sort);
  const value = cell ? (row) => short(row, cell) : shortfall;
  return [...rows].sort((a, b) =>
    state.sort === "agent" ? sign * byName(a, b) : sign * (value(a) - value(b)) || byName(a, b));
}

function monthName(text) {
  const [year, month] = text.split("-").map(Number);
  return new Intl.DateTimeFormat(language(), { year: "numeric", month: "long", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, 1)));
}

function weekName(text) {
  const [year, week] = text.split("-W").map(Number);
  return t("qa.cov.week_name", { year, week });
}

function renderHead() {
  const b = state.body;
  $("coverage-week-head").textContent = `${weekName(b.week.name)} (${b.week.first} – ${b.week.last})`;
  $("coverage-month-head").textContent = monthName(b.month.name);
  $("coverage-rule").textContent = t("qa.cov.rule", {
    daily: b.rule.daily_per_agent,
    weekly: b.rule.weekly_per_agent,
    team_leads: b.rule.team_leads,
    qa_leads: b.rule.qa_leads,
  });
  $("coverage-order").textContent = state.sort === "behind" ? t("qa.cov.order_behind") : "";
  for (const button of document.querySelectorAll("#coverage-table button[data-sort]")) {
    const th = button.closest("th");
    if (button.dataset.sort === state.sort) {
      th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
    } else {
      th.removeAttribute("aria-sort");
    }
  }
}

function renderRows() {
  const tbody = $("coverage-rows");
  tbody.replaceChildren();
  const rows = sorted(state.body.agents);
  $("coverage-empty").hidden = rows.length > 0;
  for (const row of rows) {
    const behind = shortfall(row) > 0;
    const tr = el("tr", behind ? "qa-cov-behind" : null);
    tr.dataset.agent = row.agent.name;
    const th = el("th", "qa-cov-agent");
    th.scope = "row";
    th.append(el("span", null, row.agent.name));
    if (row.agent.work_number) th.append(" ", el("span", "muted small", row.agent.work_number));
    if (behind) th.append(" ", el("span", "qa-cov-badge", t("qa.cov.behind")));
    tr.append(th);
    for (const cell of CELLS) {
      const c = row[cell[0]][cell[1]];
      const lacking = short(row, cell) > 0;
      const td = el("td", lacking ? "qa-cov-num qa-cov-short" : "qa-cov-num");
      td.dataset.cell = cell.join(".");
      td.append(el("span", "qa-cov-checked", String(c.checked)), " / ",
        el("span", "qa-cov-expected", String(c.expected)));
      // Not by colour alone: a cell behind the rule says so in words too.
      if (lacking) td.append(el("span", "qa-cov-mark", t("qa.cov.short", { n: short(row, cell) })));
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function render() {
  if (!state.body) return;
  renderHead();
  renderRows();
}

let asked = 0; // the newest request: an older answer arriving late must not replace it

export async function loadCoverage() {
  const query = new URLSearchParams();
  if ($("coverage-week").value) query.set("week", $("coverage-week").value);
  if ($("coverage-month").value) query.set("month", $("coverage-month").value);
  const mine = ++asked;
  const response = await api(`/api/qa/coverage${query.toString() ? `?${query}` : ""}`);
  if (mine !== asked) return;
  if (!response.ok) {
    const err = await response.json().catch(() => ({}));
    $("coverage-status").textContent = err.message || `HTTP ${response.status}`;
    return;
  }
  const body = await response.json();
  if (mine !== asked) return;
  state.body = body;
  $("coverage-status").textContent = "";
  $("coverage-week").value = state.body.week.name;
  $("coverage-month").value = state.body.month.name;
  $("coverage-table").hidden = false;
  render();
}

export function startCoverage(me) {
  const panel = $("coverage");
  panel.hidden = !READERS.includes(me.role);
  if (panel.hidden) return Promise.resolve();
  for (const button of panel.querySelectorAll("button[data-sort]")) {
    button.addEventListener("click", () => {
      const sort = button.dataset.sort;
      // The agent's name reads A to Z first; a count column most behind first.
      state.descending = sort === state.sort ? !state.descending : sort !== "agent";
      state.sort = sort;
      render();
    });
  }
  $("coverage-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadCoverage();
  });
  onLanguageChange(render);
  return loadCoverage();
}
