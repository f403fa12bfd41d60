// The savings page: k8s_recommendations' right-sizing per controller and container,
// with the usage quantiles behind each recommendation and the monthly savings. The
// API's filters and options go in the URL with the period; the search box narrows
// the rows shown (and the CSV) without another request.
"use strict";

// ---- savings ------------------------------------------------------------------------

const SAVINGS_OPTIONS = ["cpu_quantile", "memory_quantile", "target_utilization"];
const SAVINGS_SORT = "monthly_savings:desc";
const GIB = 1024 ** 3;
const savings = { rows: [], columns: [], state: null };

const savingsFilterInputs = () => document.querySelectorAll("[data-savings-filter]");

function savingsState() {
  const params = hashParams();
  const state = { q: params.get("q") || "", sort: params.get("sort") || SAVINGS_SORT, filters: {} };
  for (const name of SAVINGS_OPTIONS) state[name] = params.get(name) || "";
  for (const input of savingsFilterInputs()) state.filters[input.dataset.savingsFilter] = params.get(input.dataset.savingsFilter) || "";
  return state;
}

function savingsParams(state, period) {
  const params = new URLSearchParams({ from: dayText(period.start), to: dayText(period.end) });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  for (const name of SAVINGS_OPTIONS) if (state[name]) params.set(name, state[name]);
  if (state.q) params.set("q", state.q);
  params.set("sort", state.sort);
  return params;
}

function savingsQuery(state, period) {
  const pairs = periodPairs(period);
  for (const [name, value] of Object.entries(state.filters)) for (const item of listOf(value)) pairs.push([name, item]);
  for (const name of SAVINGS_OPTIONS) if (state[name]) pairs.push([name, state[name]]);
  return pairs;
}

const cores = (value) => (value === null || value === undefined ? "n/a" : decimals.format(value));
const gib = (value) => (value === null || value === undefined ? "n/a" : decimals.format(value / GIB));

function savingsColumns(answerOptions) {
  const text = (key, label, value) => ({ key, label, value, text: (item) => value(item) });
  const number = (key, label, value, format) => ({ key, label, numeric: true, value, text: (item) => format(value(item)) });
  const [cpuQuantile, memoryQuantile] = answerOptions;
  return [
    text("cloud_account_id", "Cluster", (item) => item.cloud_account_id),
    text("namespace", "Namespace", (item) => item.namespace),
    text("controller", "Controller", (item) => item.controller),
    text("container", "Container", (item) => item.container),
    number("replicas", "Replicas", (item) => item.replicas, (value) => decimals.format(value)),
    number("cpu_current", "CPU request (cores)", (item) => item.current.cpu_cores, cores),
    number("cpu_usage", `CPU usage (daily ${cpuQuantile}, cores)`, (item) => item.usage.cpu_cores, cores),
    number("cpu_recommended", "CPU recommended", (item) => item.recommended.cpu_cores, cores),
    number("memory_current", "Memory request (GiB)", (item) => item.current.memory_bytes, gib),
    number("memory_usage", `Memory usage (daily ${memoryQuantile}, GiB)`, (item) => item.usage.memory_bytes, gib),
    number("memory_recommended", "Memory recommended", (item) => item.recommended.memory_bytes, gib),
    number("days", "Days with usage", (item) => item.based_on.days_with_usage,
      (value) => (value === undefined ? "" : decimals.format(value))),
    number("monthly_savings", "Monthly savings", (item) => item.monthly_savings,
      (value) => (value === null ? "no usage data" : money.format(value))),
  ];
}

function shownSavings() {
  const needle = savings.state.q.toLowerCase();
  const rows = needle
    ? savings.rows.filter((item) =>
      [item.cloud_account_id, item.namespace, item.controller, item.container].some((field) => field.toLowerCase().includes(needle)))
    : savings.rows;
  return sortRows(rows, savings.columns, savings.state.sort);
}

function drawSavingsTable() {
  const table = $("#savings-table");
  drawHeader(table, savings.columns, savings.state.sort, (sort) => {
    savings.state.sort = sort;
    replaceState(savingsParams(savings.state, currentPeriod()));
    drawSavingsTable();
  });
  const body = table.querySelector("tbody");
  body.replaceChildren();
  const rows = shownSavings();
  for (const item of rows) {
    const row = body.insertRow();
    row.dataset.key = `${item.cloud_account_id}/${item.controller}/${item.container}`;
    fillRow(row, savings.columns, item);
  }
  const shown = rows.reduce((sum, item) => sum + (item.monthly_savings || 0), 0);
  $("#savings-count").textContent = rows.length === savings.rows.length
    ? decimals.format(rows.length)
    : `${decimals.format(rows.length)} of ${decimals.format(savings.rows.length)} (${money.format(shown)} shown)`;
}

async function renderSavings(serial, period) {
  const state = savingsState();
  replaceState(savingsParams(state, period));
  for (const input of savingsFilterInputs()) input.value = state.filters[input.dataset.savingsFilter];
  for (const name of SAVINGS_OPTIONS) if (state[name]) $(`#savings-${name}`).value = state[name];
  $("#savings-search").value = state.q;
  savings.state = state;
  const status = $("#savings-status");
  setStatus(status, "Loading…");
  let answer;
  try {
    answer = await api("k8s_recommendations", savingsQuery(state, period));
  } catch (error) {
    if (error instanceof Refused && serial === renders) {
      $("#savings-total").textContent = "—";
      delete $("#savings-total").dataset.value;
      savings.rows = [];
      drawSavingsTable();
      setStatus(status, "Could not load the recommendations: correct the setting the message above names.");
    }
    throw error;
  }
  fresh(serial, answer);
  const total = $("#savings-total");
  total.textContent = money.format(answer.total_monthly_savings);
  total.dataset.value = String(answer.total_monthly_savings);
  savings.rows = answer.recommendations;
  savings.columns = savingsColumns([$("#savings-cpu_quantile").value, $("#savings-memory_quantile").value]);
  drawSavingsTable();
  setStatus(status, answer.total_count
    ? `Requests against usage over ${dayText(period.start)} to ${dayText(period.end)} (UTC days); `
      + "savings per month of 730 h at the prices the containers paid; a negative saving asks for more."
    : "No container with requests in this period and these filters: widen the period or clear a filter.");
}

$("#savings-controls").addEventListener("submit", (event) => {
  event.preventDefault();
  const state = { ...savingsState(), q: $("#savings-search").value.trim() };
  for (const input of savingsFilterInputs()) state.filters[input.dataset.savingsFilter] = listOf(input.value).join(",");
  for (const name of SAVINGS_OPTIONS) state[name] = $(`#savings-${name}`).value.trim();
  pushState(savingsParams(state, currentPeriod()));
});
$("#savings-search").addEventListener("input", () => {
  // Narrowing the rows needs no request: redraw, and keep the search in the URL.
  savings.state.q = $("#savings-search").value.trim();
  replaceState(savingsParams(savings.state, currentPeriod()));
  drawSavingsTable();
});
$("#savings-export").addEventListener("click", () => {
  const period = currentPeriod();
  downloadCsv(`savings_${dayText(period.start)}_${dayText(period.end)}.csv`, savings.columns, shownSavings());
});
