// The allocation explorer: k8s_costs grouped by any of its groupings, two levels deep
// (a group of the first, drilled into, shown by the second), a stacked chart of the
// top groups per day, week or month (k8s_costs' `step` series, "other" for the rest),
// and the table with every component, what sharing added and the efficiencies. The
// whole view (period, groupings, drill, chart, sharing, cost metric, filters, sort)
// lives in the URL, so a view can be bookmarked and sent.
"use strict";

// ---- allocation ---------------------------------------------------------------------

const ALLOCATION_DEFAULTS = { group_by: "namespace", step: "day", top: "8", sort: "cost:desc" };
// The second level when the URL names none: what one drills into from each grouping.
const NEXT_LEVEL = { cluster: "namespace", namespace: "controller", controller: "pod", node: "pod", label: "namespace" };
// The filter that keeps a first-level group (a pod is the finest: nothing to drill into).
const DRILL_FILTER = { cluster: "cloud_account_id", namespace: "k8s_namespace", node: "k8s_node", controller: "k8s_controller" };
const SHARING_PARAMS = ["share_idle", "idle_by", "share_namespaces", "share_labels", "share_split", "cost_metric"];
const OTHER = "__other__";
const COMPONENT_COLUMNS = [
  ["cpu_cost", "CPU"], ["ram_cost", "RAM"], ["gpu_cost", "GPU"], ["pv_cost", "PV"],
  ["network_cost", "Network"], ["load_balancer_cost", "LB"], ["management_cost", "Mgmt"],
];
const STEP_LABEL = {
  day: (start) => dayText(start),
  week: (start) => `week of ${dayText(start)}`,
  month: (start) => dayText(start).slice(0, 7),
};

const kindOf = (grouping) => (grouping.startsWith("label:") ? "label" : grouping);
const nextLevel = (grouping) => NEXT_LEVEL[kindOf(grouping)] || "namespace";
const hasSecondLevel = (grouping) => kindOf(grouping) === "label" || kindOf(grouping) in DRILL_FILTER;
const filterInputs = () => document.querySelectorAll("[data-allocation-filter]");
const sharingInput = (name) => $(`#allocation-${name}`);
const allocation = { rows: [], totals: null, columns: [], state: null };

// The view as the URL says, defaults filled in.
function allocationState() {
  const params = hashParams();
  const state = {};
  for (const [name, value] of Object.entries(ALLOCATION_DEFAULTS)) state[name] = params.get(name) || value;
  state.then = params.get("then") || nextLevel(state.group_by);
  // A pod has no second level: a drill into one (a hand-made URL) is dropped.
  state.drill = hasSecondLevel(state.group_by) ? params.get("drill") || "" : "";
  for (const name of SHARING_PARAMS) state[name] = params.get(name) || "";
  state.filters = {};
  for (const input of filterInputs()) state.filters[input.dataset.allocationFilter] = params.get(input.dataset.allocationFilter) || "";
  return state;
}

// The view as a URL: the period, then every setting, in a fixed order.
function allocationParams(state, period) {
  const params = new URLSearchParams();
  params.set("from", dayText(period.start));
  params.set("to", dayText(period.end));
  for (const name of ["group_by", "then", "drill", "step", "top", "sort", ...SHARING_PARAMS]) {
    if (state[name]) params.set(name, state[name]);
  }
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  return params;
}

function groupingOf(select, labelInput) {
  const key = labelInput.value.trim();
  return select.value === "label" ? (key ? `label:${key}` : "") : select.value;
}

function showGrouping(grouping, select, labelInput) {
  select.value = kindOf(grouping);
  labelInput.value = grouping.startsWith("label:") ? grouping.slice(6) : "";
  labelInput.closest("label").hidden = select.value !== "label";
}

function showAllocationControls(state) {
  showGrouping(state.group_by, $("#allocation-group"), $("#allocation-group-label"));
  showGrouping(state.then, $("#allocation-then"), $("#allocation-then-label"));
  $("#allocation-step").value = state.step;
  $("#allocation-top").value = state.top;
  for (const name of SHARING_PARAMS) sharingInput(name).value = state[name];
  for (const input of filterInputs()) input.value = state.filters[input.dataset.allocationFilter];
}

// The view the controls describe. A new first grouping starts at the first level, and
// its second is the new one's usual next level unless another was chosen.
function controlsState() {
  const state = { ...allocationState() };
  const groupBy = groupingOf($("#allocation-group"), $("#allocation-group-label"));
  if (!groupBy) throw new Error("Type the label key to group by (e.g. team).");
  const then = groupingOf($("#allocation-then"), $("#allocation-then-label"));
  if (groupBy !== state.group_by) {
    state.drill = "";
    state.then = !then || then === nextLevel(state.group_by) ? nextLevel(groupBy) : then;
  } else {
    state.then = then || nextLevel(groupBy);
  }
  state.group_by = groupBy;
  state.step = $("#allocation-step").value;
  state.top = String(Math.min(50, Math.max(1, Number($("#allocation-top").value) || 8)));
  for (const name of SHARING_PARAMS) state[name] = sharingInput(name).value.trim();
  for (const input of filterInputs()) state.filters[input.dataset.allocationFilter] = listOf(input.value).join(",");
  return state;
}

// The API's query: filters (one value per pair), the drilled group as one more filter.
function allocationQuery(state, period) {
  const filters = {};
  for (const [name, value] of Object.entries(state.filters)) filters[name] = listOf(value);
  if (state.drill) {
    const kind = kindOf(state.group_by);
    if (kind === "label") {
      filters.k8s_label = [...filters.k8s_label || [], `${state.group_by.slice(6)}:${state.drill}`];
    } else {
      // The drilled group came from an answer these filters allowed: it replaces them.
      filters[DRILL_FILTER[kind]] = [state.drill];
    }
  }
  const pairs = [...periodPairs(period), ["group_by", state.drill ? state.then : state.group_by]];
  for (const [name, values] of Object.entries(filters)) for (const value of values) pairs.push([name, value]);
  for (const name of SHARING_PARAMS) if (state[name]) pairs.push([name, state[name]]);
  return pairs;
}

const groupLabel = (key) => (key === OTHER ? "other" : SPECIAL[key] ? `${key} (${SPECIAL[key]})` : key);

// A first-level group a filter can keep; `__idle__`, `__unmounted__`, `__unallocated__`
// have no filter of their own.
function drillable(state, key) {
  return !state.drill && !key.startsWith("__") && hasSecondLevel(state.group_by);
}

function sharedOf(item) {
  return item.shared ? Object.values(item.shared).reduce((sum, part) => sum + part, 0) : 0;
}

function allocationColumns(state, period) {
  const level = state.drill ? state.then : state.group_by;
  const efficiency = (field, label) => ({
    key: field, label, numeric: true,
    value: (item) => item[field] ?? null,
    // null: no usage measured; absent (the totals line): not computed for a sum
    text: (item) => (item[field] === undefined ? "" : item[field] === null ? "n/a" : percent.format(item[field])),
  });
  const cost = (key, label, value) => ({ key, label, numeric: true, value, text: (item) => money.format(value(item)) });
  return [
    {
      key: "key", label: level, value: (item) => item.key,
      text: (item) => {
        if (drillable(state, item.key)) {
          const link = document.createElement("a");
          const params = allocationParams({ ...state, drill: item.key }, period);
          link.href = routeWith(params);
          link.textContent = groupLabel(item.key);
          return link;
        }
        return groupLabel(item.key);
      },
    },
    ...COMPONENT_COLUMNS.map(([field, label]) => cost(field, label, (item) => item[field])),
    cost("shared", "Shared", sharedOf),
    cost("cost", "Cost", (item) => item.cost),
    efficiency("cpu_efficiency", "CPU eff."), efficiency("ram_efficiency", "RAM eff."),
    efficiency("total_efficiency", "Total eff."),
  ];
}

function drawAllocationTable() {
  const { state, columns, totals } = allocation;
  const table = $("#allocation-table");
  drawHeader(table, columns, state.sort, (sort) => {
    allocation.state.sort = sort;
    replaceState(allocationParams(allocation.state, currentPeriod()));
    drawAllocationTable();
  });
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const item of sortRows(allocation.rows, columns, state.sort)) {
    const row = body.insertRow();
    row.dataset.key = item.key;
    if (SPECIAL[item.key]) row.className = "special";
    fillRow(row, columns, item);
  }
  const foot = table.querySelector("tfoot");
  foot.replaceChildren();
  if (totals) {
    const row = foot.insertRow();
    fillRow(row, columns.slice(1), totals);
    row.insertCell(0).textContent = "Total";
  }
}

function drawAllocationPath(state, period) {
  const path = $("#allocation-path");
  path.replaceChildren();
  const top = document.createElement("a");
  top.href = routeWith(allocationParams({ ...state, drill: "" }, period));
  top.textContent = `all, by ${state.group_by}`;
  path.append(top);
  if (state.drill) path.append(` \u203A ${state.group_by} ${state.drill}, by ${state.then}`);
}

function allocationTraces(answer, step) {
  const starts = Object.keys(answer.series).map(Number).sort((a, b) => a - b);
  const keys = [...new Set(answer.groups.map((group) => group.key))];
  if (starts.some((start) => OTHER in answer.series[start])) keys.push(OTHER);
  return keys.map((key) => ({
    type: "bar",
    name: groupLabel(key),
    x: starts.map(STEP_LABEL[step]),
    y: starts.map((start) => answer.series[start][key] || 0),
    hovertemplate: "%{fullData.name}<br>%{x}: %{y:$,.2f}<extra></extra>",
  }));
}

async function renderAllocation(serial, period) {
  loadChartLibrary(); // downloads and compiles while the API answers
  const state = allocationState();
  replaceState(allocationParams(state, period));
  showAllocationControls(state);
  allocation.state = state;
  allocation.columns = allocationColumns(state, period);
  drawAllocationPath(state, period);
  $("#allocation-table caption").hidden = !hasSecondLevel(state.group_by) || Boolean(state.drill);
  const status = $("#allocation-status");
  setStatus(status, "Loading…");
  const query = allocationQuery(state, period);
  let answers;
  try {
    answers = await Promise.all([
      api("k8s_costs", query),
      api("k8s_costs", [...query, ["step", state.step], ["limit", state.top]]),
    ]);
  } catch (error) {
    if (error instanceof Refused && serial === renders) {
      // No figure of an earlier view may stay on the page as if it answered this one.
      clearAllocation();
      setStatus(status, "Could not load the allocation: correct the setting the message above names, or press Reset view.");
    }
    throw error;
  }
  const [table, chart] = fresh(serial, answers);
  const total = $("#allocation-total");
  total.textContent = money.format(table.total_cost);
  total.dataset.value = String(table.total_cost);
  $("#allocation-metric").textContent = `(${table.cost_metric}, USD)`;
  const shared = table.totals.shared ? sharedOf(table.totals) : 0;
  $("#allocation-shared").textContent = table.sharing ? money.format(shared) : "no sharing";
  allocation.rows = table.groups;
  allocation.totals = table.totals;
  drawAllocationTable();
  $("#allocation-chart").hidden = !table.groups.length;
  await drawChart($("#allocation-chart"), allocationTraces(chart, state.step));
  setStatus(status, table.groups.length
    ? `${table.total_count} group${table.total_count === 1 ? "" : "s"}, ${dayText(period.start)} to ${dayText(period.end)} (UTC days).`
    : "Nothing allocated for this period and these filters: widen the period, clear a filter "
      + "(Reset view), or see Data health for days not loaded yet.");
}

function clearAllocation() {
  for (const id of ["#allocation-total", "#allocation-shared"]) $(id).textContent = "—";
  delete $("#allocation-total").dataset.value;
  allocation.rows = [];
  allocation.totals = null;
  drawAllocationTable();
  $("#allocation-chart").hidden = true;
}

function applyAllocationControls() {
  try {
    pushState(allocationParams(controlsState(), currentPeriod()));
  } catch (error) {
    setStatus($("#allocation-status"), error.message);
  }
}

$("#allocation-controls").addEventListener("submit", (event) => {
  event.preventDefault();
  applyAllocationControls();
});
for (const select of document.querySelectorAll("#allocation-controls select")) {
  select.addEventListener("change", () => {
    const labelInput = select.id === "allocation-group" ? $("#allocation-group-label")
      : select.id === "allocation-then" ? $("#allocation-then-label") : null;
    if (labelInput) {
      labelInput.closest("label").hidden = select.value !== "label";
      if (select.value === "label" && !labelInput.value.trim()) {
        labelInput.focus();
        return; // wait for the key (Apply or Enter)
      }
    }
    applyAllocationControls();
  });
}
$("#allocation-reset").addEventListener("click", () => {
  const period = currentPeriod();
  const params = new URLSearchParams({ from: dayText(period.start), to: dayText(period.end) });
  pushState(params);
});
$("#allocation-export").addEventListener("click", () => {
  // The rows as the table shows them (same order and columns), then its total line.
  const { state, columns } = allocation;
  const rows = sortRows(allocation.rows, columns, state.sort);
  const period = currentPeriod();
  const level = state.drill ? `${state.group_by}=${state.drill}-by-${state.then}` : state.group_by;
  const name = `allocation_${level}_${dayText(period.start)}_${dayText(period.end)}.csv`.replace(/[^\w.=-]+/g, "_");
  downloadCsv(name, columns, [...rows, { ...allocation.totals, key: "total" }]);
});
