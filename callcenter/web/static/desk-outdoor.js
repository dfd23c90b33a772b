// The outdoor temperature on the desk (GET /api/temperature, read every minute): the value
// the priorities count, or "室外温度未知" with why (no reading, stale, nonsense from the
// source), so an agent never takes a priority for more than it is.

import { api, SignedOut } from "/static/desk-api.js";
import { outdoorText } from "/static/priority.js";

const POLL_MS = 60000;
const $ = (id) => document.getElementById(id);

const outdoor = { now: null }; // the API's answer; null: not read (yet)

export function renderOutdoor() {
  const box = $("outdoor");
  if (!box) return;
  box.textContent = outdoorText(outdoor.now);
  box.classList.toggle("unknown", !outdoor.now || outdoor.now.state !== "ok");
  box.title = outdoor.now && outdoor.now.reason ? outdoor.now.reason : "";
}

async function load() {
  try {
    const response = await api("/api/temperature");
    outdoor.now = response.ok ? await response.json() : null;
  } catch (err) {
    if (err instanceof SignedOut) return;
    outdoor.now = null; // offline: unknown, as the page cannot tell
  }
  renderOutdoor();
}

export function startOutdoor() {
  load();
  setInterval(load, POLL_MS);
}
