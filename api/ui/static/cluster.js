// The cluster page: daily cost by component and the k8s_costs drill-down.
"use strict";

// ---- cluster ------------------------------------------------------------------------

const drill = { account: null, namespace: null, controller: null };

async function renderCluster(serial, period, account, resourceId) {
  loadChartLibrary(); // downloads and compiles while the API answers
  if (drill.account !== account) Object.assign(drill, { account, namespace: null, controller: null });
  const scope = [...periodPairs(period), ["cloud_account_id", account]];
  // The drill-down's k8s_costs call goes out with the other two, not after the chart.
  const [[series, expenses]] = await Promise.all([
    Promise.all([
      api("breakdown_expenses", [...scope, ["breakdown_by", "k8s_component"]]),
      api("clean_expenses", scope),
    ]).then((answers) => fresh(serial, answers)),
    renderDrill(scope, serial),
  ]);
  const cluster = expenses.clean_expenses.find((item) => item.resource_id === resourceId);
  $("#cluster-name").textContent = cluster ? cluster.name || resourceId : resourceId;
  const cost = $("#cluster-cost");
  cost.textContent = money.format(cluster ? cluster.cost : 0);
  cost.dataset.value = String(cluster ? cluster.cost : 0);
  await drawChart($("#cluster-chart"), dailyTraces(series, COMPONENTS, (key) => key));
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
