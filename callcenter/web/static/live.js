// The live page (entry module): signs in the header, starts the language, the ring-count
// ticker, the notices' dismiss buttons, the anomalies and incidents panels and the live feed.
// State and drawing live in live-panels.js (and the modules it names), the server link in
// live-feed.js.

import { bindLanguageButtons, onLanguageChange, startLanguage } from "/static/i18n.js";
import { startAnomalies } from "/static/live-anomalies.js";
import { startIncidents } from "/static/live-incidents.js";
import { loadMe, startFeed, stopFeed } from "/static/live-feed.js";
import {
  $,
  dismissAllNotices,
  dismissNotice,
  renderAll,
  state,
  tick,
} from "/static/live-panels.js";

const TICK_MS = 200;

async function logout() {
  stopFeed();
  try {
    await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  } catch {
    // offline: the session cookie still expires on its own
  }
  window.location.replace("/login");
}

async function start() {
  try {
    await loadMe();
  } catch {
    return; // signed out: on the way to the login page
  }
  try {
    await startLanguage(state.me ? state.me.language : null);
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  onLanguageChange(renderAll);
  bindLanguageButtons();
  $("logout").addEventListener("click", logout);
  $("notice-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-dismiss]");
    if (button) dismissNotice(button.dataset.dismiss);
  });
  $("notices-dismiss-all").addEventListener("click", dismissAllNotices);
  renderAll();
  document.querySelector(".topbar").hidden = false;
  document.querySelector("main").hidden = false;
  setInterval(tick, TICK_MS);
  startFeed();
  startAnomalies();
  startIncidents();
}

start();
