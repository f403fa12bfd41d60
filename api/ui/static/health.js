// The data health page: the completeness ledger, ingest status, how to rerun a day.
"use strict";

// ---- data health --------------------------------------------------------------------

// An abandoned attempt (its process died during the load) needs a rerun, as a failure does.
const CATEGORY = { succeeded: "loaded", loaded: "loaded", running: "late", abandoned: "failed" };

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
  if (item.status === "abandoned") parts.push("its process died during the load: rerun the day");
  return parts.join("; ");
}

// The drawn ledger's days (its columns after the first) and accounts (its rows).
const ledgerPlaces = { days: [], accounts: [] };

$("#ledger tbody").addEventListener("click", (event) => {
  const cell = event.target.closest("td.cell");
  if (!cell) return;
  $("#ledger-detail").textContent = cell.title;
  const day = ledgerPlaces.days[cell.cellIndex - 1];
  const account = ledgerPlaces.accounts[cell.parentElement.sectionRowIndex];
  for (const span of document.querySelectorAll(".rerun-day")) span.textContent = day;
  for (const span of document.querySelectorAll(".rerun-tenant")) span.textContent = account;
});

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
  // A clicked cell is found by its place (ledgerPlaces): one listener for the
  // table, not one per cluster-day (30,000 on a large organization).
  Object.assign(ledgerPlaces, { days, accounts: [...clusters.keys()] });
  for (const cluster of clusters.values()) {
    const row = body.insertRow();
    row.insertCell().textContent = cluster.name;
    for (const day of days) {
      const item = cluster.days[day];
      const cell = row.insertCell();
      const category = item ? CATEGORY[item.status] || item.status : "missing";
      cell.className = `cell ${category}`;
      cell.dataset.status = category;
      cell.title = item ? reasonOf(item) : "";
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
