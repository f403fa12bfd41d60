// The bills page: each cloud account's invoice per billing period in the three cost
// metrics, and which node VMs were folded into which cluster (with their reconciliation
// once the API gives it).
"use strict";

// ---- bills --------------------------------------------------------------------------

const METRICS = ["billed", "effective", "list"];

// The bills answer (docs/api.md, `bills`): each account's invoice per billing period of
// the months the period touches, in the three metrics, and the clusters' folded nodes
// over the period in the chosen metric; one call, summed by the API.
async function renderBills(serial, period) {
  const metric = $("#bills-metric").value;
  showStatus($("#bills-status"), "Loading the bills…");
  showStatus($("#billed-nodes-status"), "Loading the clusters' nodes…");
  const answer = fresh(serial, await api("bills",
    [...periodPairs(period), ...(metric ? [["cost_metric", metric]] : [])]));
  drawBills(answer);
  drawBilledNodes(answer, period);
}

// One row per (account, billing period), as the API sums them.
function drawBills(answer) {
  const months = answer.billing_periods;
  const body = $("#bills-table tbody");
  body.replaceChildren();
  for (const bill of answer.bills) {
    const row = body.insertRow();
    row.dataset.account = bill.cloud_account_id;
    row.dataset.billingPeriod = bill.billing_period;
    row.insertCell().textContent = bill.cloud_account_name || bill.cloud_account_id;
    row.insertCell().textContent = bill.cloud_account_type || "";
    row.insertCell().textContent = bill.billing_period;
    const count = row.insertCell();
    count.className = "num";
    count.textContent = bill.item_count.toLocaleString();
    for (const name of METRICS) moneyCell(row, bill[`${name}_cost`], name);
  }
  const foot = $("#bills-table tfoot");
  foot.replaceChildren();
  if (answer.bills.length) {
    const row = foot.insertRow();
    row.className = "total";
    const label = row.insertCell();
    label.colSpan = 4;
    label.textContent = `Total of ${months.join(", ")}`;
    for (const name of METRICS) moneyCell(row, answer.totals[`${name}_cost`], name).id = `bills-total-${name}`;
  }
  showStatus($("#bills-status"), answer.bills.length ? ""
    : `No bill charges for ${months.join(", ")}: import a FOCUS bill (k8scost cloud import, docs/api.md).`);
}

function moneyCell(row, value, metric) {
  const cell = row.insertCell();
  cell.className = "num";
  cell.dataset.metric = metric;
  cell.dataset.value = String(value);
  cell.textContent = money.format(value);
  return cell;
}

function drawBilledNodes(answer, period) {
  const body = $("#billed-nodes-table tbody");
  body.replaceChildren();
  const reconciled = [];
  for (const cluster of answer.clusters) {
    if (cluster.reconciliation) reconciled.push(cluster);
    for (const node of cluster.billed_nodes || []) {
      const row = body.insertRow();
      row.dataset.cluster = cluster.resource_id;
      row.dataset.resourceId = node.resource_id;
      row.insertCell().textContent = cluster.name || cluster.resource_id;
      row.insertCell().textContent = node.name || node.resource_id;
      row.insertCell().textContent = node.cloud_resource_id || "";
      row.insertCell().textContent = node.cloud_account_id;
      moneyCell(row, node.cost, answer.cost_metric);
    }
  }
  const span = `${dayText(period.start)} to ${dayText(period.end)} (UTC)`;
  showStatus($("#billed-nodes-status"), body.rows.length
    ? `${answer.cost_metric} cost, ${span}.`
    : `No bill VM was a cluster's node from ${span}: nothing folded.`);
  drawReconciliation(reconciled);
}

function drawReconciliation(clusters) {
  $("#reconciliation").hidden = !clusters.length;
  const body = $("#reconciliation-table tbody");
  body.replaceChildren();
  for (const cluster of clusters) {
    const done = cluster.reconciliation;
    const row = body.insertRow();
    row.dataset.cluster = cluster.resource_id;
    row.insertCell().textContent = cluster.name || cluster.resource_id;
    row.insertCell().textContent = done.cost_metric;
    const counts = [done.matched_node_days, done.matched_nodes,
      done.matched_volume_days, done.matched_volumes];
    for (const count of counts) {
      const cell = row.insertCell();
      cell.className = "num";
      cell.textContent = Number(count).toLocaleString();
    }
    moneyCell(row, done.list_cost, "list");
    moneyCell(row, done.bill_cost, done.cost_metric);
    moneyCell(row, done.adjustment, done.cost_metric);
  }
}

$("#bills-metric").addEventListener("change", () => render());
