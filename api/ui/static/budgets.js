// The budgets page: each budget's month-to-date and forecast as bars against its amount
// and thresholds; create, edit and delete through the budgets API (an editor's write).
"use strict";

// ---- budgets ------------------------------------------------------------------------

const budgetsPage = { editing: null, budgets: [] };

// The budgets' month is the one after `as_of`: the period's last day, or yesterday
// (the last complete UTC day) when the period runs on past it.
function budgetAsOf(period) {
  const yesterday = utcDay(new Date()) - DAY;
  return dayText(Math.min(period.end - DAY + 1, yesterday));
}

async function renderBudgets(serial, period) {
  const asOf = budgetAsOf(period);
  showStatus($("#budgets-status"), "Loading budgets…");
  const answer = fresh(serial, await api("budgets", [["as_of", asOf]]));
  budgetsPage.budgets = answer.budgets;
  const month = answer.budgets.length ? answer.budgets[0].status.month : asOf.slice(0, 7);
  $("#budgets-as-of").textContent =
    `${month}, as of ${asOf} (UTC, the period's last complete day): month-to-date spend, and the forecast ` +
    "(month-to-date + the mean of the last 7 days x the days left).";
  showStatus($("#budgets-status"), answer.total_count ? "" : "No budgets yet: create one below.");
  const list = $("#budget-list");
  list.replaceChildren(...answer.budgets.map(budgetCard));
}

function budgetCard(budget) {
  const { status } = budget;
  const card = document.createElement("div");
  card.className = "card budget";
  card.dataset.budgetId = budget.id;
  const head = document.createElement("div");
  head.className = "budget-head";
  const name = document.createElement("strong");
  name.textContent = budget.name;
  const about = document.createElement("span");
  about.className = "muted";
  about.textContent = `${budget.scope} · ${money.format(budget.amount_usd)} a month · ${status.cost_metric || "billed"} cost`;
  head.append(name, about, button("Edit", () => editBudget(budget)), button("Delete", () => deleteBudget(budget)));
  // One scale for both bars: the amount, or a spend beyond it.
  const scale = Math.max(budget.amount_usd, status.month_to_date_usd, status.forecast_usd) * 1.05;
  const bars = document.createElement("div");
  bars.className = "budget-bars";
  bars.append(
    barRow("Month to date", "mtd", status.month_to_date_usd, budget, scale),
    barRow(`Forecast (${status.days_left} day(s) left)`, "forecast", status.forecast_usd, budget, scale),
  );
  const legend = document.createElement("p");
  legend.className = "legend muted";
  legend.textContent = "Thresholds: " + status.thresholds.map((t) => {
    const state = t.crossed ? "crossed" : t.forecast ? "forecast to cross" : "not reached";
    return `${t.pct}% = ${money.format(t.amount_usd)} (${state})`;
  }).join("; ");
  card.append(head, bars, legend);
  return card;
}

function button(text, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.addEventListener("click", action);
  return element;
}

function barRow(label, kind, value, budget, scale) {
  const row = document.createElement("div");
  row.className = "bar-row";
  const name = document.createElement("span");
  name.className = "bar-label";
  name.textContent = label;
  const track = document.createElement("div");
  track.className = "track";
  track.setAttribute("role", "img");
  track.setAttribute("aria-label", `${label}: ${money.format(value)} of ${money.format(budget.amount_usd)}`);
  const bar = document.createElement("div");
  bar.className = `bar ${kind}${value >= budget.amount_usd ? " over" : ""}`;
  bar.style.width = `${(100 * value) / scale}%`;
  bar.dataset.value = String(value);
  bar.title = `${label}: ${money.format(value)}`;
  track.append(bar);
  for (const threshold of budget.status.thresholds) {
    const tick = document.createElement("div");
    tick.className = "tick";
    tick.style.left = `${(100 * threshold.amount_usd) / scale}%`;
    tick.title = `${threshold.pct}% of the amount: ${money.format(threshold.amount_usd)}`;
    track.append(tick);
  }
  const figure = document.createElement("span");
  figure.className = "num bar-value";
  figure.textContent = `${money.format(value)} (${((100 * value) / budget.amount_usd).toFixed(0)}%)`;
  row.append(name, track, figure);
  return row;
}

// ---- writing ------------------------------------------------------------------------

function formMessage(text) {
  $("#budget-form-message").textContent = text;
}

// What a refused write means, and what to do about it.
function refusal(result, what) {
  // A 403 is the token's role (a viewer) or its scope (a budget outside its clusters,
  // namespaces or labels): api/auth.py and the budgets route name which in `errors`.
  const errors = result.body.errors || {};
  if (result.status === 403 && errors.role) {
    return `Not allowed to ${what}: ${result.body.detail}. Writing budgets needs an editor ` +
      "or admin token (k8scost tokens create --organization-id ORG --role editor); this one can only read.";
  }
  if (result.status === 403) {
    return `Not allowed to ${what}: ${result.body.detail || "forbidden"}. Choose a scope within the token's.`;
  }
  // A problem's `errors`: each field (or part) with its messages (api/problems.py).
  const fields = Object.entries(errors).map(([field, texts]) => `${field}: ${[].concat(texts).join(", ")}`);
  return `Could not ${what} (${result.status}): ${fields.join("; ") || result.body.detail || "the API refused it"}.`;
}

function formBody() {
  const body = {
    name: $("#budget-name").value.trim(),
    scope: $("#budget-scope").value.trim(),
    amount_usd: Number($("#budget-amount").value),
  };
  const thresholds = $("#budget-thresholds").value.split(",").map((text) => text.trim()).filter(Boolean);
  if (thresholds.length) body.thresholds = thresholds.map(Number);
  return body;
}

function resetForm() {
  budgetsPage.editing = null;
  $("#budget-form").reset();
  $("#budget-form-title").textContent = "New budget";
  $("#budget-save").textContent = "Create";
  $("#budget-cancel").hidden = true;
}

function editBudget(budget) {
  budgetsPage.editing = budget.id;
  $("#budget-name").value = budget.name;
  $("#budget-scope").value = budget.scope;
  $("#budget-amount").value = String(budget.amount_usd);
  $("#budget-thresholds").value = budget.thresholds.join(", ");
  $("#budget-form-title").textContent = `Edit budget ${budget.name}`;
  $("#budget-save").textContent = "Save";
  $("#budget-cancel").hidden = false;
  formMessage("");
  $("#budget-name").focus();
}

async function deleteBudget(budget) {
  if (!window.confirm(`Delete budget ${budget.name}? Its alerts stay.`)) return;
  const result = await apiSend("DELETE", `budgets/${encodeURIComponent(budget.id)}`);
  formMessage(result.ok ? "" : refusal(result, `delete budget ${budget.name}`));
  if (result.ok) render();
}

$("#budget-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const editing = budgetsPage.editing;
  const result = editing
    ? await apiSend("PUT", `budgets/${encodeURIComponent(editing)}`, formBody())
    : await apiSend("POST", "budgets", formBody());
  if (!result.ok) {
    formMessage(refusal(result, editing ? "save the budget" : "create the budget"));
    document.body.dataset.budgetWrite = `refused:${result.status}`;
    return;
  }
  formMessage("");
  resetForm();
  document.body.dataset.budgetWrite = `saved:${result.body.id}`;
  render();
});
$("#budget-cancel").addEventListener("click", () => {
  resetForm();
  formMessage("");
});
