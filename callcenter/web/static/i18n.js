// The pages' tiny translator: picks the language, loads /static/i18n/<lang>.json and fills
// every element marked data-i18n. Strings are set with textContent only, never as HTML.

export const LANGUAGES = ["zh-CN", "en"];
const STORAGE_KEY = "callcenter.language";
const CN_DIGITS = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

let dictionary = {};
let current = "en";
const listeners = [];

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: fall back to the profile or the browser
  }
}

function fromBrowser() {
  const wanted = navigator.languages && navigator.languages.length
    ? navigator.languages[0]
    : navigator.language || "";
  return wanted.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The language to show: the user's switch, else the profile's, else the browser's. */
export function chooseLanguage(profileLanguage) {
  const choice = stored();
  if (LANGUAGES.includes(choice)) return choice;
  if (LANGUAGES.includes(profileLanguage)) return profileLanguage;
  return fromBrowser();
}

export function language() {
  return current;
}

/** Translate `key`, replacing {name} with vars.name. A missing key shows itself. */
export function t(key, vars = {}) {
  const text = Object.prototype.hasOwnProperty.call(dictionary, key) ? dictionary[key] : key;
  return text.replace(/\{(\w+)\}/g, (all, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : all,
  );
}

/** 3 → 三, for the domain term 响铃三声; numbers above ten stay digits. */
export function chineseNumber(n) {
  return Number.isInteger(n) && n >= 0 && n <= 10 ? CN_DIGITS[n] : String(n);
}

/** Fill data-i18n (text), data-i18n-placeholder and data-i18n-aria-label under root. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll("[data-lang]")) {
    el.setAttribute("aria-pressed", String(el.dataset.lang === current));
  }
  const title = document.documentElement.dataset.i18nTitle;
  if (title) document.title = t(title);
}

async function load(lang) {
  const response = await fetch(`/static/i18n/${lang}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`dictionary ${lang}: HTTP ${response.status}`);
  dictionary = await response.json();
  current = lang;
  document.documentElement.lang = lang;
  translatePage();
  for (const listener of listeners) listener(lang);
}

/** Load the chosen language at page start. */
export async function startLanguage(profileLanguage) {
  await load(chooseLanguage(profileLanguage));
}

/** A page told its language in its address (?lang=zh-CN, zh, en), else the browser's;
 * nothing is remembered (the wallboard: a TV has no one to sign in). */
export async function showLanguage(wanted) {
  const asked = String(wanted || "").toLowerCase();
  if (asked.startsWith("zh")) await load("zh-CN");
  else if (asked.startsWith("en")) await load("en");
  else await load(fromBrowser());
}

/** The user's switch: remembered in this browser, overriding profile and browser. */
export async function switchLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the switch still applies to this page
  }
  await load(lang);
}

/** Call `listener(lang)` after every language change (to re-render dynamic content). */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Wire every button[data-lang] under root to the switch. */
export function bindLanguageButtons(root = document) {
  for (const button of root.querySelectorAll("button[data-lang]")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.lang));
  }
}

// The zone the hotline counts "today" in (web.timezone, from /api/me and the live snapshot):
// every time on the pages is shown in it, whatever zone the browser is in.
let timeZone; // undefined until the server names it: the browser's own zone meanwhile

/** Use `zone` (an IANA name such as "Asia/Shanghai") for every time shown; false if unknown. */
export function setTimeZone(zone) {
  if (typeof zone !== "string" || !zone) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone }); // RangeError for a zone it does not know
  } catch {
    console.warn("unknown time zone from the server", zone);
    return false;
  }
  timeZone = zone;
  return true;
}

export function timeZoneName() {
  return timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function dayOf(when) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(when);
}

function parse(iso) {
  if (!iso) return null;
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? null : when;
}

function format(when, withSeconds) {
  const options = { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withSeconds) options.second = "2-digit";
  if (dayOf(when) !== dayOf(new Date())) {
    options.month = "2-digit";
    options.day = "2-digit";
  }
  return new Intl.DateTimeFormat(current, options).format(when);
}

/** A UTC ISO time in the hotline's zone: the time today, date and time otherwise. */
export function localTime(iso) {
  const when = parse(iso);
  return when ? format(when, true) : "";
}

/** As localTime, to the minute (HH:MM). */
export function shortTime(iso) {
  const when = parse(iso);
  return when ? format(when, false) : "";
}

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

// A datetime-local field is the hotline's wall clock, whatever zone the browser is in: an
// expected repair time typed in Berlin still means 08:00 in Shanghai.
function wallParts(when) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: timeZoneName(),
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(when);
  const get = (type) => parts.find((p) => p.type === type).value;
  return ["year", "month", "day", "hour", "minute", "second"].map(get);
}

/** Minutes the hotline's zone is ahead of UTC at the instant `when`. */
function zoneOffset(when) {
  const [y, mo, d, h, mi, s] = wallParts(when).map(Number);
  return Math.round((Date.UTC(y, mo - 1, d, h, mi, s) - when.getTime()) / 60000);
}

const pad2 = (n) => String(n).padStart(2, "0");

/** An ISO time as a datetime-local value ("2026-12-05T10:00") on the hotline's wall clock. */
export function toZoneInput(iso) {
  const when = parse(iso);
  if (!when) return "";
  const [y, mo, d, h, mi] = wallParts(when);
  return `${y}-${mo}-${d}T${h}:${mi}`;
}

/** A datetime-local value read on the hotline's wall clock, as ISO 8601 with the zone's
 * offset at that moment ("2026-12-05T10:00:00+08:00"); "" when empty or not a time. */
export function fromZoneInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return "";
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  // The offset at the wall time read as UTC, then at the instant that gives (one step
  // settles it except within a daylight-saving jump).
  let offset = zoneOffset(new Date(wall));
  offset = zoneOffset(new Date(wall - offset * 60000));
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${m[0]}:00${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}
