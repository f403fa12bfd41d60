// The dashboard's script: sign-in, a hash router and the three pages, over the API.
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
const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
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

async function api(endpoint, pairs, accept) {
  const organization = sessionStorage.getItem(ORG);
  const url = `/restapi/v2/organizations/${encodeURIComponent(organization)}/${endpoint}?${query(pairs)}`;
  const response = await fetch(url, {
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
    showMessage(`${endpoint}: ${problem.detail || response.statusText}`);
    throw new Refused();
  }
  return accept === "blob" ? response.blob() : response.json();
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
  location.hash = location.hash.split("?")[0]; // a period in the URL gives way to the chosen one
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

// The chart library loads after this script (index.html), while the first API calls run.
const plotlyReady = window.Plotly
  ? Promise.resolve()
  : new Promise((resolve) => $("#plotly-js").addEventListener("load", resolve));

async function drawChart(element, traces) {
  await plotlyReady;
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

// ---- overview -----------------------------------------------------------------------

const PAGE = 50;
const overview = { rows: [], sort: null, offset: 0, answer: null };

function filterPairs() {
  const pairs = [];
  for (const input of document.querySelectorAll("[data-filter]")) {
    for (const value of input.value.split(",")) {
      if (value.trim()) pairs.push([input.dataset.filter, value.trim()]);
    }
  }
  return pairs;
}

function tableQuery(period) {
  return [...periodPairs(period), ...filterPairs(), ["limit", PAGE], ["offset", overview.offset]];
}

// The account type is no key of breakdown_expenses: the accounts' series, summed by type.
function byAccountType(answer) {
  const typeOf = (key) => answer.counts[key].type || "unknown";
  const breakdown = {};
  for (const [day, bucket] of Object.entries(answer.breakdown)) {
    breakdown[day] = {};
    for (const [key, { cost }] of Object.entries(bucket)) {
      const type = typeOf(key);
      breakdown[day][type] = { cost: ((breakdown[day][type] || { cost: 0 }).cost) + cost };
    }
  }
  const counts = {};
  for (const [key, count] of Object.entries(answer.counts)) {
    const total = counts[typeOf(key)] || { total: 0, previous_total: 0 };
    counts[typeOf(key)] = { total: total.total + count.total, previous_total: total.previous_total + count.previous_total };
  }
  return { ...answer, breakdown, counts };
}

async function renderOverview(serial, period) {
  const chosen = $("#breakdown-by").value;
  const by = chosen === "cloud_account_type" ? "cloud_account_id" : chosen;
  const [answer, table] = fresh(serial, await Promise.all([
    api("breakdown_expenses", [...periodPairs(period), ["breakdown_by", by], ...filterPairs()]),
    api("clean_expenses", tableQuery(period)),
  ]));
  const series = chosen === "cloud_account_type" ? byAccountType(answer) : answer;
  const total = $("#total-cost");
  total.textContent = money.format(series.total);
  total.dataset.value = String(series.total);
  const change = $("#total-change");
  if (series.previous_total > 0) {
    const ratio = (series.total - series.previous_total) / series.previous_total;
    change.textContent = `${ratio >= 0 ? "+" : ""}${(ratio * 100).toFixed(1)}%`;
    change.className = `big ${ratio > 0 ? "up" : "down"}`;
  } else {
    change.textContent = "n/a";
    change.className = "big";
  }
  $("#previous-total").textContent =
    `previous ${dayText(series.previous_start_date)} to ${dayText(series.previous_end_date)}: ` +
    money.format(series.previous_total);
  const keys = Object.keys(series.counts)
    .filter((key) => series.counts[key].total > 0)
    .sort((a, b) => series.counts[b].total - series.counts[a].total);
  const label = (key) => series.counts[key].name || key;
  await drawChart($("#overview-chart"), dailyTraces(series, keys, label));
  overview.rows = table.clean_expenses;
  overview.answer = table;
  drawTable();
}

function drawTable() {
  const rows = [...overview.rows];
  if (overview.sort) {
    const { field, direction } = overview.sort;
    rows.sort((a, b) => {
      const x = a[field] ?? "";
      const y = b[field] ?? "";
      return (x < y ? -1 : x > y ? 1 : 0) * direction;
    });
  }
  const body = $("#expenses-table tbody");
  body.replaceChildren();
  for (const item of rows) {
    const row = body.insertRow();
    row.dataset.resourceId = item.resource_id;
    const name = row.insertCell();
    name.textContent = item.name || item.resource_id;
    if (item.resource_type === "K8s Cluster") {
      name.className = "cluster-link";
      name.addEventListener("click", () => {
        location.hash = `#/cluster/${encodeURIComponent(item.cloud_account_id)}/${encodeURIComponent(item.resource_id)}`;
      });
    }
    for (const field of ["resource_type", "service_name", "region", "cloud_account_name"]) {
      row.insertCell().textContent = item[field] || "";
    }
    const cost = row.insertCell();
    cost.className = "num";
    cost.textContent = money.format(item.cost);
  }
  const answer = overview.answer;
  const first = rows.length ? overview.offset + 1 : 0;
  $("#page-info").textContent =
    `${first}-${overview.offset + rows.length} of ${answer.total_count} resources (most expensive first)`;
  $("#page-prev").disabled = overview.offset === 0;
  $("#page-next").disabled = overview.offset + rows.length >= answer.total_count;
}

for (const header of document.querySelectorAll("#expenses-table th[data-sort]")) {
  header.addEventListener("click", () => {
    const field = header.dataset.sort;
    const direction = overview.sort && overview.sort.field === field ? -overview.sort.direction : 1;
    overview.sort = { field, direction };
    for (const other of document.querySelectorAll("#expenses-table th")) other.className = "";
    header.className = direction > 0 ? "sorted-asc" : "sorted-desc";
    drawTable();
  });
}
$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  overview.offset = 0;
  render();
});
$("#breakdown-by").addEventListener("change", () => render());
$("#page-next").addEventListener("click", () => {
  overview.offset += PAGE;
  render();
});
$("#page-prev").addEventListener("click", () => {
  overview.offset = Math.max(0, overview.offset - PAGE);
  render();
});
$("#export-csv").addEventListener("click", async () => {
  // The same query as the table (filters, limit, offset): exactly the rows shown.
  const blob = await api("clean_expenses", [...tableQuery(currentPeriod()), ["format", "csv"]], "blob");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "clean_expenses.csv";
  link.click();
  URL.revokeObjectURL(link.href);
});

// ---- cluster ------------------------------------------------------------------------

const drill = { account: null, namespace: null, controller: null };

async function renderCluster(serial, period, account, resourceId) {
  if (drill.account !== account) Object.assign(drill, { account, namespace: null, controller: null });
  const scope = [...periodPairs(period), ["cloud_account_id", account]];
  const [series, expenses] = fresh(serial, await Promise.all([
    api("breakdown_expenses", [...scope, ["breakdown_by", "k8s_component"]]),
    api("clean_expenses", scope),
  ]));
  const cluster = expenses.clean_expenses.find((item) => item.resource_id === resourceId);
  $("#cluster-name").textContent = cluster ? cluster.name || resourceId : resourceId;
  const cost = $("#cluster-cost");
  cost.textContent = money.format(cluster ? cluster.cost : 0);
  cost.dataset.value = String(cluster ? cluster.cost : 0);
  await drawChart($("#cluster-chart"), dailyTraces(series, COMPONENTS, (key) => key));
  await renderDrill(scope, serial);
}

async function renderDrill(scope, serial) {
  const labelKey = $("#drill-label").value.trim();
  let groupBy = "namespace";
  const pairs = [...scope];
  if ($("#drill-group").value === "label" && labelKey) {
    groupBy = `label:${labelKey}`;
  } else if (drill.controller) {
    groupBy = "pod";
  } else if (drill.namespace) {
    groupBy = "controller";
  }
  if (drill.namespace) pairs.push(["k8s_namespace", drill.namespace]);
  if (drill.controller) pairs.push(["k8s_controller", drill.controller]);
  const answer = await api("k8s_costs", [...pairs, ["group_by", groupBy]]);
  if (serial !== undefined) fresh(serial, answer);
  const table = $("#drill-table");
  table.dataset.groupBy = groupBy;
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const level = groupBy === "namespace" ? "namespace" : groupBy === "controller" ? "controller" : null;
  for (const group of answer.groups) {
    const row = body.insertRow();
    row.dataset.key = group.key;
    const name = row.insertCell();
    name.textContent = SPECIAL[group.key] ? `${group.key} (${SPECIAL[group.key]})` : group.key;
    if (SPECIAL[group.key]) {
      row.className = "special";
    } else if (level) {
      row.className = "drillable";
      name.addEventListener("click", () => {
        drill[level] = group.key;
        renderDrill(scope);
      });
    }
    for (const column of ["cpu_cost", "ram_cost", "gpu_cost", "pv_cost", "load_balancer_cost",
      "network_cost", "management_cost", "cost"]) {
      const cell = row.insertCell();
      cell.className = "num";
      cell.textContent = money.format(group[column]);
    }
  }
  drawCrumbs(scope);
  document.body.dataset.drilled = `${groupBy}:${drill.namespace || ""}:${drill.controller || ""}`;
}

function drawCrumbs(scope) {
  const path = $("#drill-path");
  path.replaceChildren();
  const steps = [["all namespaces", { namespace: null, controller: null }]];
  if (drill.namespace) steps.push([drill.namespace, { controller: null }]);
  if (drill.controller) steps.push([drill.controller, {}]);
  steps.forEach(([text, reset], index) => {
    if (index) path.append(" \u203A ");
    const link = document.createElement("a");
    link.textContent = text;
    link.addEventListener("click", () => {
      Object.assign(drill, reset);
      renderDrill(scope);
    });
    path.append(link);
  });
}

$("#drill-group").addEventListener("change", () => {
  $("#drill-label").hidden = $("#drill-group").value !== "label";
  render();
});
$("#drill-label").addEventListener("change", () => render());

// ---- data health --------------------------------------------------------------------

const CATEGORY = { succeeded: "loaded", loaded: "loaded", running: "late" };

function reasonOf(item) {
  const parts = [`${item.cloud_account_name} ${item.date}: ${item.status}`];
  if (item.stage) parts.push(`stage ${item.stage}`);
  if (item.attempts) parts.push(`${item.attempts} attempt(s)`);
  if (item.last_error) parts.push(item.last_error);
  for (const issue of item.issues || []) parts.push(typeof issue === "string" ? issue : JSON.stringify(issue));
  for (const failure of item.quality_failures || []) {
    parts.push(typeof failure === "string" ? failure : JSON.stringify(failure));
  }
  if (item.status === "missing") parts.push("no run recorded this day");
  if (item.status === "no_data") parts.push("Thanos had no samples for the day");
  return parts.join("; ");
}

async function renderHealth(serial, period) {
  const [ledger, ingest] = fresh(serial, await Promise.all([
    api("k8s_import_status", periodPairs(period)),
    api("ingest_status", []),
  ]));
  const days = [...new Set(ledger.k8s_import_status.map((item) => item.date))].sort();
  const clusters = new Map();
  for (const item of ledger.k8s_import_status) {
    if (!clusters.has(item.cloud_account_id)) clusters.set(item.cloud_account_id, { name: item.cloud_account_name, days: {} });
    clusters.get(item.cloud_account_id).days[item.date] = item;
  }
  const head = $("#ledger thead");
  head.replaceChildren();
  const headRow = head.insertRow();
  headRow.insertCell().textContent = "cluster";
  for (const day of days) {
    const cell = headRow.insertCell();
    cell.textContent = day.slice(5);
    cell.title = day;
  }
  const body = $("#ledger tbody");
  body.replaceChildren();
  for (const [account, cluster] of clusters) {
    const row = body.insertRow();
    row.insertCell().textContent = cluster.name;
    for (const day of days) {
      const item = cluster.days[day];
      const cell = row.insertCell();
      const category = item ? CATEGORY[item.status] || item.status : "missing";
      cell.className = `cell ${category}`;
      cell.dataset.status = category;
      cell.title = item ? reasonOf(item) : "";
      cell.addEventListener("click", () => {
        $("#ledger-detail").textContent = cell.title;
        for (const span of document.querySelectorAll(".rerun-day")) span.textContent = day;
        for (const span of document.querySelectorAll(".rerun-tenant")) span.textContent = account;
      });
    }
  }
  const ingestBody = $("#ingest tbody");
  ingestBody.replaceChildren();
  const when = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace(".000", "") : "never");
  for (const cluster of ingest.ingest_status) {
    const row = ingestBody.insertRow();
    row.insertCell().textContent = cluster.cloud_account_name;
    row.insertCell().textContent = when(cluster.last_sample_at);
    row.insertCell().textContent = when(cluster.last_received_at);
    const status = row.insertCell();
    status.textContent = cluster.silent ? `silent (> ${ingest.silent_after} s)` : "receiving";
    status.className = cluster.silent ? "silent" : "";
  }
}

// ---- the router ---------------------------------------------------------------------

function showPage(id) {
  for (const page of document.querySelectorAll(".page")) page.hidden = page.id !== id;
  const signedIn = id !== "sign-in";
  $("#nav").hidden = !signedIn;
  $("#period-bar").hidden = !signedIn;
  $("#signed-in-org").textContent = signedIn ? sessionStorage.getItem(ORG) : "";
  for (const link of document.querySelectorAll("#nav a")) {
    link.className = link.dataset.page === id ? "active" : "";
  }
}

async function render() {
  const serial = ++renders;
  delete document.body.dataset.loaded;
  showMessage("");
  if (!sessionStorage.getItem(TOKEN)) {
    showPage("sign-in");
    $("#sign-in-org").value = sessionStorage.getItem(ORG) || "";
    document.body.dataset.loaded = "sign-in";
    return;
  }
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const [page, ...rest] = path.split("/");
  const period = currentPeriod();
  showPeriod(period);
  try {
    if (page === "cluster" && rest.length === 2) {
      showPage("cluster");
      await renderCluster(serial, period, decodeURIComponent(rest[0]), decodeURIComponent(rest[1]));
    } else if (page === "health") {
      showPage("health");
      await renderHealth(serial, period);
    } else {
      showPage("overview");
      await renderOverview(serial, period);
    }
    if (serial === renders) {
      window.k8scostDrawnAt = performance.now(); // ms since navigation start (bench/ui.py)
      document.body.dataset.loaded = page || "overview";
    }
  } catch (error) {
    if (error instanceof Stale) return;
    if (!(error instanceof SignedOut) && !(error instanceof Refused)) {
      showMessage(String(error));
      throw error;
    }
    if (error instanceof Refused && serial === renders) document.body.dataset.loaded = "refused";
  }
}

window.addEventListener("hashchange", () => render());
render();
