// The dashboard's common parts: the API, sign-in, the period and the charts. The pages
// are overview.js, cluster.js, health.js, alerts.js, budgets.js and bills.js; app.js
// routes between them (index.html loads common.js first and app.js last, classic
// scripts sharing their top-level names).
// The token lives in sessionStorage and goes in the Authorization header only (never in
// a URL); a 401 returns to sign-in, a 403 names the organization the token cannot read.
// When a page has drawn everything, <body data-loaded="<page>"> says so (for tests).
"use strict";

const TOKEN = "k8scost.token";
const ORG = "k8scost.organization";
const PERIOD = "k8scost.period";
const DAY = 86400;
const COMPONENTS = ["cpu", "ram", "gpu", "pv", "load_balancer", "network", "management", "idle"];
const SPECIAL = {
  __idle__: "node capacity no pod used",
  __unmounted__: "PVs and load balancers no pod used",
  __unallocated__: "pods without a controller or without the label",
};
const $ = (selector) => document.querySelector(selector);
// The browser's locale, the currency said (the API's figures are USD).
const dollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });
// Cents; float noise around zero (-1e-15) is $0.00, not -$0.00.
const money = { format: (value) => dollars.format(Math.abs(value) < 0.005 ? 0 : value) };

class SignedOut extends Error {}
class Refused extends Error {}
class Stale extends Error {}

// Each render has a serial number; an answer that arrives after a newer render began
// is dropped (an older period's answer must not overwrite the newer one's page).
let renders = 0;
function fresh(serial, value) {
  if (serial !== renders) throw new Stale();
  return value;
}

// ---- the API ------------------------------------------------------------------------

function query(pairs) {
  const params = new URLSearchParams();
  for (const [name, value] of pairs) params.append(name, String(value));
  return params.toString();
}

// fetch, saying what to do when the API does not answer at all (stopped, unreachable).
async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch (error) {
    showMessage(`The API did not answer (${error.message}): is k8scost api running? Reload the page to retry.`);
    throw new Refused();
  }
}

async function api(endpoint, pairs, accept) {
  const organization = sessionStorage.getItem(ORG);
  const url = `/restapi/v2/organizations/${encodeURIComponent(organization)}/${endpoint}?${query(pairs)}`;
  const response = await reach(url, {
    headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` },
  });
  if (response.status === 401) {
    signOut("The token is not valid (revoked or unknown): sign in again.");
    throw new SignedOut();
  }
  if (response.status === 403) {
    showMessage(`This token cannot read organization ${organization}.`);
    throw new Refused();
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const advice = response.status >= 500 ? " (retry; if it persists, the API's log says why)" : "";
    showMessage(`${endpoint}: ${problem.detail || response.statusText}${advice}`);
    throw new Refused();
  }
  return accept === "blob" ? response.blob() : response.json();
}

// A write (POST, PUT, DELETE) whose refusal the page explains itself: {ok, status, body}.
// A 401 still signs out; a 403 or 400 problem is answered, not thrown.
async function apiSend(method, endpoint, body) {
  const organization = sessionStorage.getItem(ORG);
  const response = await reach(`/restapi/v2/organizations/${encodeURIComponent(organization)}/${endpoint}`, {
    method,
    headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    signOut("The token is not valid (revoked or unknown): sign in again.");
    throw new SignedOut();
  }
  const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body: answer };
}

// What a page says while it loads, when it has nothing to show, or nothing at all.
function showStatus(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

function showMessage(text) {
  const message = $("#page-message");
  message.textContent = text;
  message.hidden = !text;
}

// ---- sign-in ------------------------------------------------------------------------

function signOut(reason) {
  sessionStorage.removeItem(TOKEN);
  $("#sign-in-message").textContent = reason || "";
  render();
}

$("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(ORG, $("#sign-in-org").value.trim());
  sessionStorage.setItem(TOKEN, $("#sign-in-token").value.trim());
  $("#sign-in-token").value = "";
  $("#sign-in-message").textContent = "";
  if (!location.hash.startsWith("#/")) location.hash = "#/overview";
  render();
});
$("#sign-out").addEventListener("click", () => signOut(""));

// ---- the period ---------------------------------------------------------------------

function utcDay(date) {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) / 1000;
}
function dayText(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
function parseDay(text) {
  return Date.parse(`${text}T00:00:00Z`) / 1000;
}

// A period is whole UTC days: start at a midnight, end at the last day's last second.
function periodOf(kind, from, to) {
  const now = new Date();
  const today = utcDay(now);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  switch (kind) {
    case "last_month":
      return { kind, start: Date.UTC(year, month - 1, 1) / 1000, end: Date.UTC(year, month, 1) / 1000 - 1 };
    case "last_30_days":
      return { kind, start: today - 29 * DAY, end: today + DAY - 1 };
    case "custom":
      return { kind, start: parseDay(from), end: parseDay(to) + DAY - 1 };
    default:
      return { kind: "this_month", start: Date.UTC(year, month, 1) / 1000, end: today + DAY - 1 };
  }
}

function currentPeriod() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  if (params.get("from") && params.get("to")) {
    // A period in the URL (a shared link) becomes the tab's period.
    const linked = periodOf("custom", params.get("from"), params.get("to"));
    sessionStorage.setItem(PERIOD, JSON.stringify(linked));
    return linked;
  }
  const saved = JSON.parse(sessionStorage.getItem(PERIOD) || "null");
  return saved || periodOf("this_month");
}

function showPeriod(period) {
  $("#period").value = period.kind;
  $("#custom-period").hidden = period.kind !== "custom";
  $("#period-start").value = dayText(period.start);
  $("#period-end").value = dayText(period.end);
  $("#period-label").textContent = `${dayText(period.start)} to ${dayText(period.end)} (UTC)`;
}

function choosePeriod(period) {
  sessionStorage.setItem(PERIOD, JSON.stringify(period));
  overview.offset = 0;
  // A period in the URL gives way to the chosen one; a view's other settings stay.
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  params.delete("from");
  params.delete("to");
  location.hash = [location.hash.split("?")[0], params.toString()].filter(Boolean).join("?");
  render();
}

$("#period").addEventListener("change", () => {
  const kind = $("#period").value;
  if (kind === "custom") {
    $("#custom-period").hidden = false;
  } else {
    choosePeriod(periodOf(kind));
  }
});
$("#apply-period").addEventListener("click", () =>
  choosePeriod(periodOf("custom", $("#period-start").value, $("#period-end").value)),
);

function periodPairs(period) {
  return [["start_date", period.start], ["end_date", period.end]];
}

// ---- charts -------------------------------------------------------------------------

function dailyTraces(answer, keys, label) {
  const days = Object.keys(answer.breakdown).map(Number).sort((a, b) => a - b);
  return keys.map((key) => ({
    type: "bar",
    name: label(key),
    x: days.map((day) => dayText(day)),
    y: days.map((day) => (answer.breakdown[day][key] || { cost: 0 }).cost),
  }));
}

// The chart library (plotly.js's finance bundle) is loaded only by the pages that draw a
// chart: compiling it takes most of a first visit's main-thread time, which a page
// without a chart would wait for too. A chart page calls this as it starts, so the
// library downloads and compiles while its API calls run; drawing awaits it again.
let chartLibrary = null;
function loadChartLibrary() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = document.body.dataset.chartLibrary;
      script.addEventListener("load", resolve);
      script.addEventListener("error", () => {
        chartLibrary = null; // the next page that draws a chart tries again
        script.remove();
        reject(new Error("The chart library did not load: reload the page to retry."));
      });
      document.head.append(script);
    });
    chartLibrary.catch(() => {}); // said by the drawing that awaits it, not as unhandled
  }
  return chartLibrary;
}

async function drawChart(element, traces) {
  await loadChartLibrary();
  const layout = {
    barmode: "stack",
    margin: { l: 60, r: 20, t: 10, b: 40 },
    yaxis: { tickprefix: "$" },
    xaxis: { type: "category" },
    legend: { orientation: "h" },
    showlegend: true,
  };
  return Plotly.react(element, traces, layout, { displayModeBar: false, responsive: true });
}
