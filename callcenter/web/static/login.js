// The login page: POST /api/login, show the API's error translated, go to the live page.

import { bindLanguageButtons, onLanguageChange, startLanguage, t } from "/static/i18n.js";

const form = document.getElementById("login-form");
const nameInput = document.getElementById("name");
const passwordInput = document.getElementById("password");
const errorBox = document.getElementById("login-error");
const submit = document.getElementById("login-submit");
let lastError = null; // {code, message}: re-translated when the language changes

function showError(error) {
  lastError = error;
  if (!error) {
    errorBox.hidden = true;
    errorBox.textContent = "";
    return;
  }
  const key = `error.${error.code}`;
  const text = t(key);
  errorBox.textContent = text === key ? t("error.generic", { message: error.message || error.code }) : text;
  errorBox.hidden = false;
}

function setBusy(busy) {
  submit.disabled = busy;
  submit.textContent = t(busy ? "login.busy" : "login.submit");
}

/** Agents land on the desk, stations on their portal, everyone else on the live page. */
function landing(role) {
  return { agent: "/desk", station: "/station" }[role] || "/";
}

async function login(event) {
  event.preventDefault();
  const name = nameInput.value.trim();
  const password = passwordInput.value;
  if (!name || !password) {
    showError({ code: "missing-field" });
    (name ? passwordInput : nameInput).focus();
    return;
  }
  showError(null);
  setBusy(true);
  let response;
  try {
    response = await fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, password }),
    });
  } catch {
    setBusy(false);
    showError({ code: "network" });
    return;
  }
  if (response.ok) {
    let me = {};
    try {
      me = await response.json();
    } catch {
      // not JSON: the live page decides
    }
    window.location.assign(landing(me.role));
    return;
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page): show the status
  }
  setBusy(false);
  showError({ code: body.error || "http", message: body.message || `HTTP ${response.status}` });
  passwordInput.select();
  passwordInput.focus();
}

async function start() {
  // Already signed in (a bookmark to /login): straight to the live page (a station to its
  // portal: the live page is not for it).
  try {
    const me = await fetch("/api/me", { credentials: "same-origin" });
    if (me.ok) {
      const role = (await me.json().catch(() => ({}))).role;
      window.location.replace(role === "station" ? "/station" : "/");
      return;
    }
  } catch {
    // offline: the form still shows, and says so on submit
  }
  try {
    await startLanguage(null);
  } catch (err) {
    console.error("loading the dictionary failed", err);
  }
  onLanguageChange(() => {
    setBusy(submit.disabled);
    showError(lastError);
  });
  bindLanguageButtons();
  form.addEventListener("submit", login);
  document.querySelector(".login-card").hidden = false;
  nameInput.focus();
}

start();
