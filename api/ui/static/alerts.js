// The alerts page: the period's anomalies and budget alerts, each alert's causes as a
// waterfall from where it started to its cost, linked to the cluster on the alert's day.
"use strict";

// ---- alerts -------------------------------------------------------------------------

const alertsPage = { alerts: [], selected: null, clusters: new Map(), accountNames: new Map() };
const CAUSE_TITLES = { components: "component", controllers: "controller", nodes: "node", accounts: "account" };

function signedMoney(value) {
  return `${value > 0 ? "+" : ""}${money.format(value)}`;
}

// The cluster page of an anomaly's cluster over its one UTC day (a budget has no cluster).
function clusterHref(alert) {
  const resourceId = alertsPage.clusters.get(alert.cloud_account_id);
  if (!resourceId) return null;
  const account = encodeURIComponent(alert.cloud_account_id);
  return `#/cluster/${account}/${encodeURIComponent(resourceId)}?from=${alert.day}&to=${alert.day}`;
}

async function renderAlerts(serial, period) {
  const state = $("#alert-state").value;
  showStatus($("#alerts-status"), "Loading alerts…");
  $("#alerts-table tbody").replaceChildren();
  $("#alert-detail").hidden = true;
  const [answer, clusters] = fresh(serial, await Promise.all([
    api("k8s_alerts", [...periodPairs(period), ...(state ? [["state", state]] : [])]).then((alerts) => {
      // The first alert's waterfall needs the chart library: it loads while the
      // clusters' call runs. A period without alerts draws no chart and loads none.
      if (alerts.k8s_alerts.length) loadChartLibrary();
      return alerts;
    }),
    api("clean_expenses", [...periodPairs(period), ["resource_type", "K8s Cluster"]]),
  ]));
  alertsPage.clusters = new Map(clusters.clean_expenses.map((item) => [item.cloud_account_id, item.resource_id]));
  // A budget's causes are accounts by id: the clusters' are named (a bill account keeps its id).
  alertsPage.accountNames = new Map(clusters.clean_expenses.map((item) => [item.cloud_account_id, item.cloud_account_name]));
  alertsPage.alerts = answer.k8s_alerts;
  showStatus($("#alerts-status"), answer.total_count
    ? `${answer.total_count} alert(s) from ${dayText(period.start)} to ${dayText(period.end)} (UTC days); pick one for its causes.`
    : `No ${state || "open or resolved"} alerts from ${dayText(period.start)} to ${dayText(period.end)} (UTC). ` +
      "Alerts are raised after each loaded day (k8scost alerts evaluate, docs/alerts.md).");
  drawAlertRows();
  const kept = alertsPage.alerts.find((alert) => alert.id === alertsPage.selected);
  if (kept || alertsPage.alerts.length) await showAlert(kept || alertsPage.alerts[0]);
}

function drawAlertRows() {
  const body = $("#alerts-table tbody");
  body.replaceChildren();
  for (const alert of alertsPage.alerts) {
    const row = body.insertRow();
    row.dataset.alertId = alert.id;
    row.insertCell().textContent = alert.day;
    const state = row.insertCell();
    state.textContent = alert.state;
    state.className = alert.state === "open" ? "up" : "muted";
    const pick = document.createElement("button");
    pick.type = "button";
    pick.className = "link";
    pick.textContent = alert.title || alert.id;
    pick.addEventListener("click", () => showAlert(alert));
    row.insertCell().append(pick);
    for (const value of [alert.cost_usd, alert.cost_usd - alert.change_usd]) {
      const cell = row.insertCell();
      cell.className = "num";
      cell.textContent = money.format(value);
    }
    const change = row.insertCell();
    change.className = `num ${alert.change_usd > 0 ? "up" : "down"}`;
    change.textContent = signedMoney(alert.change_usd);
    change.dataset.value = String(alert.change_usd);
    const where = row.insertCell();
    const href = clusterHref(alert);
    if (href) {
      const link = document.createElement("a");
      link.href = href;
      link.className = "cluster-day";
      link.textContent = `${alert.cloud_account_name || alert.cloud_account_id} on ${alert.day}`;
      where.append(link);
    } else {
      where.textContent = alert.kind === "budget" ? `budget ${alert.scope}` : "";
    }
  }
}

async function showAlert(alert) {
  alertsPage.selected = alert.id;
  for (const row of document.querySelectorAll("#alerts-table tbody tr")) {
    row.classList.toggle("selected", row.dataset.alertId === alert.id);
  }
  const by = $("#alert-causes-by");
  const dimensions = Object.keys(alert.causes);
  const chosen = dimensions.includes(by.value) ? by.value : dimensions[0];
  by.replaceChildren(...dimensions.map((key) => new Option(CAUSE_TITLES[key] || key, key)));
  by.value = chosen;
  $("#alert-detail").hidden = false;
  $("#alert-title").textContent = alert.title || alert.id;
  $("#alert-headline").textContent = alert.headline || "";
  const summary = $("#alert-summary");
  summary.replaceChildren(...alert.summary.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
  await drawWaterfall(alert, chosen);
}

// Where the alert started (an anomaly's baseline mean, a budget's $0 at the month's
// start), each cause's signed dollars, and the cost they reach: the causes add up to
// change_usd, so the last bar is the alert's cost.
async function drawWaterfall(alert, dimension) {
  const causes = alert.causes[dimension] || [];
  const start = alert.cost_usd - alert.change_usd;
  const startLabel = alert.kind === "budget" ? "month start" : "baseline (mean)";
  const endLabel = alert.kind === "budget" ? "month to date" : `cost on ${alert.day}`;
  const what = CAUSE_TITLES[dimension] || dimension;
  const named = (cause) => (dimension === "accounts" && alertsPage.accountNames.get(cause.name)) || cause.name;
  const trace = {
    type: "waterfall",
    name: `${startLabel}, each ${what}'s change, ${endLabel}`,
    measure: ["absolute", ...causes.map(() => "relative"), "total"],
    x: [startLabel, ...causes.map((cause) => `${named(cause)} (${cause.change})`), endLabel],
    y: [start, ...causes.map((cause) => cause.amount_usd), alert.cost_usd],
    text: [money.format(start), ...causes.map((cause) => signedMoney(cause.amount_usd)), money.format(alert.cost_usd)],
    textposition: "outside",
    hovertemplate: "%{x}: %{text}<extra></extra>",
    increasing: { marker: { color: "#cf222e" } },
    decreasing: { marker: { color: "#2da44e" } },
    totals: { marker: { color: "#1f5fbf" } },
  };
  await loadChartLibrary();
  const layout = {
    margin: { l: 60, r: 20, t: 20, b: 120 },
    yaxis: { tickprefix: "$", title: { text: "USD" } },
    xaxis: { type: "category", automargin: true },
    showlegend: true,
    legend: { orientation: "h", y: 1.1 },
  };
  await Plotly.react($("#alert-waterfall"), [trace], layout, { displayModeBar: false, responsive: true });
  document.body.dataset.alert = `${alert.id}:${dimension}`;
}

$("#alert-state").addEventListener("change", () => render());
$("#alert-causes-by").addEventListener("change", () => {
  const alert = alertsPage.alerts.find((item) => item.id === alertsPage.selected);
  if (alert) drawWaterfall(alert, $("#alert-causes-by").value);
});
