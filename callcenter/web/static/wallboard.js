// The wallboard (大屏), entry module: a TV across the hotline room, opened with a read-only
// token in its address, never a login. The figures come over HTTP first (which also says
// whether the token is good), then live over the WebSocket. A lost connection shows a line
// and reconnects with backoff; a refused or revoked token shows a full-screen message and
// the page asks nothing more.

import { language, setTimeZone, showLanguage, t } from "/static/i18n.js";
import {
  $,
  drawBlocked,
  drawClock,
  drawConn,
  drawFigures,
  drawRinging,
} from "/static/wallboard-render.js";

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const TICK_MS = 1000;
const CLOSE_REVOKED = 4401; // the server closes a revoked token's boards with it
// Today's charts, drawn by the service (the reports' charts); redrawn each minute, as an hour's
// bar grows slowly and a TV has no one to press reload.
const CHARTS = ["hourly", "rings"];
const CHARTS_MS = 60000;

const params = new URLSearchParams(window.location.search);
const token = params.get("token") || "";
const query = `token=${encodeURIComponent(token)}`;

const board = { figures: null, receivedAt: 0, blocked: false };
let attempt = 0;
let retryTimer = null;

function show(figures) {
  if (board.blocked) return;
  setTimeZone(figures.timezone);
  board.figures = figures;
  board.receivedAt = Date.now();
  drawFigures(figures, board.receivedAt);
  drawClock(); // in the hotline's zone from the first figures on
  $("wall-head").hidden = false;
  $("wall-board").hidden = false;
  if (!$("wall-charts").childElementCount) drawCharts();
}

function block(code) {
  board.blocked = true;
  board.figures = null;
  clearTimeout(retryTimer);
  $("wall-charts").replaceChildren();
  fitCharts();
  drawBlocked(code);
}

/** A TV lays the board out around the charts once one is drawn (wallboard.css). */
function fitCharts() {
  const shown = [...$("wall-charts").querySelectorAll("img")].some((img) => !img.hidden);
  $("wall-board").classList.toggle("with-charts", shown);
}

/** Today's charts as images; one the service cannot draw (no calls yet at all) is left out. */
function drawCharts() {
  if (board.blocked || !board.figures) return;
  const section = $("wall-charts");
  const drawn = new Map([...section.querySelectorAll("img")].map((img) => [img.dataset.chart, img]));
  for (const name of CHARTS) {
    let img = drawn.get(name);
    if (!img) {
      img = document.createElement("img");
      img.className = "wall-chart";
      img.dataset.chart = name;
      img.addEventListener("error", () => { img.hidden = true; fitCharts(); });
      img.addEventListener("load", () => { img.hidden = false; fitCharts(); });
      section.append(img);
    }
    img.alt = t(`wall.chart.${name}`);
    const q = new URLSearchParams({ token, lang: language(), at: String(Date.now()) });
    img.src = `/api/wallboard/charts/${name}?${q}`;
  }
}


function retry() {
  if (board.blocked) return;
  drawConn("lost");
  // 1, 2, 4 … 30 s, with jitter: every board in the building does not come back at once.
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  attempt += 1;
  retryTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
}

/** The figures over HTTP: a 401 names why the token is refused (the socket could not). */
async function connect() {
  if (!token) {
    block("wallboard-token-missing");
    return;
  }
  let response;
  try {
    response = await fetch(`/api/wallboard/figures?${query}`, {
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
  } catch {
    retry();
    return;
  }
  if (response.status === 401) {
    let code = "wallboard-token-invalid";
    try {
      code = (await response.json()).error || code;
    } catch {
      // not our JSON (a proxy's page): still refused
    }
    block(code);
    return;
  }
  if (!response.ok) {
    retry();
    return;
  }
  try {
    show(await response.json());
  } catch {
    retry();
    return;
  }
  listen();
}

function listen() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/api/wallboard/live?${query}`);
  socket.addEventListener("open", () => {
    attempt = 0;
    drawConn("live");
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      console.warn("wallboard: a message that is not JSON");
      return;
    }
    if (message.type === "figures") show(message);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === CLOSE_REVOKED) block(event.reason || "wallboard-token-revoked");
    else retry();
  });
}

function tick() {
  drawClock();
  if (board.figures && !board.blocked) drawRinging(board.figures, board.receivedAt);
}

async function start() {
  try {
    await showLanguage(params.get("lang"));
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  drawConn("connecting");
  drawClock();
  $("wall-head").hidden = false; // "Connecting…" shows even before the first figures
  setInterval(tick, TICK_MS);
  setInterval(drawCharts, CHARTS_MS);
  connect();
}

start();
