// The bills page: each cloud account's invoice per billing period in the three cost
// metrics, and which node VMs were folded into which cluster (with their reconciliation
// once the API gives it).
"use strict";

// ---- bills --------------------------------------------------------------------------

const METRICS = ["billed", "effective", "list"];
// Every day the stores hold (ClickHouse DateTime): a billing period's charges on any day,
// so each account-period total is exactly its invoice (docs/api.md, billing_period).
const ALL_DAYS = [["start_date", 0], ["end_date", 2 ** 32 - 1]];

// The months (YYYY-MM) the period touches: the billing periods shown.
function billingMonths(period) {
  const months = [];
  const first = new Date(period.start * 1000);
  const last = dayText(period.end).slice(0, 7);
  for (let month = first.getUTCMonth(); ; month += 1) {
    const text = new Date(Date.UTC(first.getUTCFullYear(), month, 1)).toISOString().slice(0, 7);
    if (text > last) return months;
    months.push(text);
  }
}

async function renderBills(serial, period) {
  const months = billingMonths(period);
  const metric = $("#bills-metric").value;
  showStatus($("#bills-status"), `Loading the bills of ${months.join(", ")}…`);
  showStatus($("#billed-nodes-status"), "Loading the clusters' nodes…");
  const calls = months.flatMap((month) => METRICS.map((name) =>
    api("clean_expenses", [...ALL_DAYS, ["billing_period", month], ["cost_metric", name]])));
  // Every item of the period: a node is folded only when its VM and its cluster are both
  // in the answer (docs/api.md, "No double counting"), so no resource_type filter here.
  calls.push(api("clean_expenses", [...periodPairs(period), ...(metric ? [["cost_metric", metric]] : [])]));
  const answers = fresh(serial, await Promise.all(calls));
  const clusters = answers.pop();
  drawBills(months, answers);
  drawBilledNodes(clusters, period);
}

// One row per (account, billing period): the items' cost summed in each metric.
function drawBills(months, answers) {
  const rows = new Map();
  const totals = Object.fromEntries(METRICS.map((name) => [name, 0]));
  answers.forEach((answer, index) => {
    const month = months[Math.floor(index / METRICS.length)];
    const name = METRICS[index % METRICS.length];
    totals[name] += answer.total_cost;
    for (const item of answer.clean_expenses) {
      const key = `${item.cloud_account_id}|${month}`;
      if (!rows.has(key)) {
        rows.set(key, { account: item.cloud_account_id, accountName: item.cloud_account_name, type: item.cloud_account_type,
          month, items: new Set(), ...Object.fromEntries(METRICS.map((m) => [m, 0])) });
      }
      const row = rows.get(key);
      row[name] += item.cost;
      row.items.add(item.resource_id);
    }
  });
  const sorted = [...rows.values()].sort((a, b) =>
    a.month.localeCompare(b.month) || b.billed - a.billed || a.account.localeCompare(b.account));
  const body = $("#bills-table tbody");
  body.replaceChildren();
  for (const bill of sorted) {
    const row = body.insertRow();
    row.dataset.account = bill.account;
    row.dataset.billingPeriod = bill.month;
    row.insertCell().textContent = bill.accountName || bill.account;
    row.insertCell().textContent = bill.type || "";
    row.insertCell().textContent = bill.month;
    const count = row.insertCell();
    count.className = "num";
    count.textContent = bill.items.size.toLocaleString();
    for (const name of METRICS) moneyCell(row, bill[name], name);
  }
  const foot = $("#bills-table tfoot");
  foot.replaceChildren();
  if (sorted.length) {
    const row = foot.insertRow();
    row.className = "total";
    const label = row.insertCell();
    label.colSpan = 4;
    label.textContent = `Total of ${months.join(", ")}`;
    for (const name of METRICS) moneyCell(row, totals[name], name).id = `bills-total-${name}`;
  }
  showStatus($("#bills-status"), sorted.length ? ""
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
  for (const cluster of answer.clean_expenses) {
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
