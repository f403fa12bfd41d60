// The dashboard's router: which page the URL's hash names, drawn when it changes.
"use strict";

// ---- the router ---------------------------------------------------------------------

// The pages drawn from the period alone: `#/<name>` -> the function that draws it.
const PAGES = {
  health: renderHealth,
  allocation: renderAllocation,
  savings: renderSavings,
  alerts: renderAlerts,
  budgets: renderBudgets,
  bills: renderBills,
};

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
    } else if (Object.hasOwn(PAGES, page)) {
      showPage(page);
      await PAGES[page](serial, period);
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
    // The page drew nothing: no "Loading…" left beside the message saying why.
    for (const status of document.querySelectorAll(".page [role=status]")) showStatus(status, "");
    if (!(error instanceof SignedOut) && !(error instanceof Refused)) {
      showMessage(String(error));
      throw error;
    }
    if (error instanceof Refused && serial === renders) document.body.dataset.loaded = "refused";
  }
}

window.addEventListener("hashchange", () => render());
render();
