// The station portal (entry module), for a station that runs no client of its own: its open
// repair orders (派工单) most urgent first (priority by the cold: the band, its reasons, and
// "室外温度未知" when the cold could not count) with the time left to each deadline, and the
// ones it finished lately. Stations get no live WebSocket: the lists are read again every 15 s and
// after each step. The open order and its steps are station-order.js, deadlines station-due.js.

import {
  bindLanguageButtons,
  localTime,
  onLanguageChange,
  setTimeZone,
  startLanguage,
  t,
  timeZoneName,
} from "/static/i18n.js";
import {
  ACTIVE,
  SignedOut,
  addressOf,
  api,
  categoryText,
  pendingSteps,
  shortId,
  timeLeft,
} from "/static/station-due.js";
import { priorityNodes } from "/static/priority.js";
import {
  currentId,
  currentStatus,
  openOrder,
  reloadOrder,
  renderOrder,
  startOrder,
} from "/static/station-order.js";

const POLL_MS = 15000;
const DONE_LIMIT = 10; // "recently finished": the last ten
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  stations: new Map(), // code → name
  open: [],
  done: [],
  details: new Map(), // order id → {status, ticket}: the resident for the list lines
  sync: "connecting", // connecting | live | offline
  syncedAt: null,
  listStatus: "loading", // loading | ok | unavailable
};

function stationName(code) {
  const name = state.stations.get(code);
  return name ? `${name} (${code})` : code || "";
}

// -- header ---------------------------------------------------------------------------------
function renderHeader() {
  const me = state.me;
  if (!me) return;
  $("user-name").textContent = me.name;
  $("user-station").textContent = me.station ? stationName(me.station) : t(`role.${me.role}`);
  $("times-zone").textContent = t("times.zone", { zone: timeZoneName() });
  const notStation = me.role !== "station";
  $("not-station").hidden = !notStation;
  $("not-station").textContent = notStation ? t("portal.not_station") : "";
}

function renderSync() {
  $("sync").className = `conn conn-${state.sync === "offline" ? "reconnecting" : state.sync}`;
  $("sync-text").textContent =
    state.sync === "live"
      ? t("portal.synced", { time: localTime(state.syncedAt) })
      : t(`portal.sync.${state.sync}`);
}

// -- the lists ------------------------------------------------------------------------------
function line(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function orderItem(order, finished) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "order-open";
  button.dataset.order = order.id;
  if (order.id === currentId()) button.setAttribute("aria-current", "true");
  const detail = state.details.get(order.id);
  const ticket = detail ? detail.ticket : null;
  const head = document.createElement("span");
  head.className = "order-head";
  const status = line(`order-status status-${order.status}`, t(`portal.status.${order.status}`));
  head.append(status, line("order-id mono", shortId(order.id)));
  if (order.round > 1) head.append(line("order-round", t("portal.round_n", { n: order.round })));
  button.append(head, line("order-address", addressOf(ticket) || "…"));
  const fault = categoryText(ticket);
  if (fault) button.append(line("order-fault muted", fault));
  if (!finished && order.priority) {
    const why = document.createElement("span");
    why.className = "order-priority";
    why.append(line("muted", t("priority.title")), ...priorityNodes(order.priority));
    button.append(why);
  }
  if (finished) {
    const at = order.returned_at || order.closed_at;
    button.append(line("order-when muted", t("portal.finished_at", { time: localTime(at) })));
  } else {
    if (order.paused_since) {
      const since = t("portal.paused_short", { time: localTime(order.paused_since) });
      button.append(line("order-due paused", since));
    }
    const next = pendingSteps(order)[0];
    if (next) {
      const left = timeLeft(next.due);
      const when = t("portal.next_due", {
        step: t(`portal.step.${next.step}`),
        time: localTime(next.due),
        left: left.text,
      });
      button.append(line(left.overdue ? "order-due overdue" : "order-due", when));
      li.classList.toggle("overdue", left.overdue);
    }
  }
  li.append(button);
  return li;
}

function renderList(id, orders, finished) {
  const list = $(id);
  // Keep the keyboard where it was across a refresh.
  const focused = document.activeElement && document.activeElement.closest(`#${id}`)
    ? document.activeElement.dataset.order
    : null;
  const items = orders.map((o) => orderItem(o, finished));
  if (!orders.length) {
    const li = document.createElement("li");
    li.className = "muted small empty-line";
    li.textContent = t(finished ? "portal.done_none" : "portal.open_none");
    items.push(li);
  }
  list.replaceChildren(...items);
  if (focused) list.querySelector(`button[data-order="${focused}"]`)?.focus();
}

function renderLists() {
  $("list-status").textContent =
    state.listStatus === "ok" ? "" : t(`portal.list.${state.listStatus}`);
  renderList("open-list", state.open, false);
  renderList("done-list", state.done, true);
}

async function fetchOrders(query) {
  const response = await api(`/api/orders?${query}`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** The resident of each listed order, read once per status it is seen in. */
async function fillDetails(orders) {
  const wanted = orders.filter((o) => {
    const known = state.details.get(o.id);
    return !known || known.status !== o.status;
  });
  await Promise.all(
    wanted.map(async (o) => {
      const response = await api(`/api/orders/${encodeURIComponent(o.id)}`);
      if (response.ok) {
        const body = await response.json();
        state.details.set(o.id, { status: body.status, ticket: body.ticket || null });
      }
    }),
  );
}

let polling = null;

/** Read both lists (and the open order if a poll shows it moved), then draw. */
async function refresh() {
  if (polling) return polling;
  polling = (async () => {
    try {
      const [open, done] = await Promise.all([
        fetchOrders(`status=${ACTIVE.join(",")}&sort=priority`),
        fetchOrders(`status=returned,refused,recalled&limit=${DONE_LIMIT}`),
      ]);
      state.open = open;
      state.done = done;
      state.listStatus = "ok";
      state.sync = "live";
      state.syncedAt = new Date().toISOString();
      const shown = [...open, ...done].find((o) => o.id === currentId());
      if (shown && shown.status !== currentStatus()) await reloadOrder();
      renderLists();
      await fillDetails([...open, ...done]);
    } catch (err) {
      if (err instanceof SignedOut) return;
      console.warn("reading the orders failed", err);
      state.sync = "offline";
      if (state.listStatus !== "ok") state.listStatus = "unavailable";
    } finally {
      polling = null;
    }
    renderSync();
    renderLists();
  })();
  return polling;
}

// -- start ----------------------------------------------------------------------------------
async function logout() {
  try {
    await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  } catch {
    // offline: the session cookie still expires on its own
  }
  window.location.replace("/login");
}

function renderAll() {
  renderHeader();
  renderSync();
  renderLists();
  renderOrder();
}

async function loadStations() {
  try {
    const response = await api("/api/stations");
    if (response.ok) {
      for (const s of await response.json()) state.stations.set(s.code, s.name);
    }
  } catch (err) {
    if (err instanceof SignedOut) throw err;
    console.warn("the stations' names did not load: codes it is", err);
  }
}

async function start() {
  try {
    const response = await api("/api/me");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    state.me = await response.json();
    setTimeZone(state.me.timezone);
    await loadStations();
  } catch (err) {
    if (err instanceof SignedOut) return;
    console.error("who is signed in is unknown", err);
  }
  try {
    await startLanguage(state.me ? state.me.language : null);
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  onLanguageChange(renderAll);
  bindLanguageButtons();
  $("logout").addEventListener("click", logout);
  startOrder({
    onChanged: refresh,
    stationName,
    onClose: (id) => {
      renderLists();
      const item = document.querySelector(`#list-panel button[data-order="${id}"]`);
      (item || $("open-title")).focus();
    },
  });
  for (const id of ["open-list", "done-list"]) {
    $(id).addEventListener("click", (event) => {
      const button = event.target.closest("button[data-order]");
      if (!button) return;
      openOrder(button.dataset.order).then((ok) => ok && renderLists());
    });
  }
  renderAll();
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  await refresh();
  $("open-list").querySelector("button")?.focus();
  setInterval(refresh, POLL_MS);
}

// The open order's time left moves on between polls too.
setInterval(() => {
  if (currentId()) renderOrder();
}, 30000);

start();
