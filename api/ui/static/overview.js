// The overview page: total, change, daily chart and the clean_expenses table.
"use strict";

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
  loadChartLibrary(); // downloads and compiles while the API answers
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
  // The table first: on a first visit the chart waits for the chart library to compile.
  overview.rows = table.clean_expenses;
  overview.answer = table;
  drawTable();
  await drawChart($("#overview-chart"), dailyTraces(series, keys, label));
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
