// The dashboard's router: which page the URL's hash names, drawn when it changes.
"use strict";

// ---- the router ---------------------------------------------------------------------

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
    } else if (page === "health") {
      showPage("health");
      await renderHealth(serial, period);
    } else if (page === "allocation") {
      showPage("allocation");
      await renderAllocation(serial, period);
    } else if (page === "savings") {
      showPage("savings");
      await renderSavings(serial, period);
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
    if (!(error instanceof SignedOut) && !(error instanceof Refused)) {
      showMessage(String(error));
      throw error;
    }
    if (error instanceof Refused && serial === renders) document.body.dataset.loaded = "refused";
  }
}

window.addEventListener("hashchange", () => render());
render();
