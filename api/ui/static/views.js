// What the allocation explorer and the savings page share: a view's whole state in the
// URL's hash (so a view can be bookmarked and sent, and a reload restores it), tables
// drawn from column definitions with keyboard-reachable sorting, and a CSV of exactly
// the rows and columns a table shows.
"use strict";

const decimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

function hashParams() {
  return new URLSearchParams(location.hash.split("?")[1] || "");
}

// The URL of the current route with `params`.
function routeWith(params) {
  const text = params.toString();
  return text ? `${location.hash.split("?")[0]}?${text}` : location.hash.split("?")[0];
}

// A user's change adds a history entry and redraws through the router's hashchange;
// a drawn view only makes its URL canonical (defaults written out), without redrawing.
function pushState(params) {
  location.hash = routeWith(params);
}
function replaceState(params) {
  const target = routeWith(params);
  if (target !== location.hash) history.replaceState(null, "", target);
}

// The values of a comma-separated input, trimmed, empty ones dropped.
function listOf(text) {
  return (text || "").split(",").map((value) => value.trim()).filter(Boolean);
}

function setStatus(element, text) {
  element.textContent = text;
  element.closest(".page").setAttribute("aria-busy", String(text === "Loading…"));
}

// ---- tables -------------------------------------------------------------------------

// A column: {key, label, value(row) (sorting, CSV), text(row) (the cell), numeric}.
function sortRows(rows, columns, sort) {
  const [key, direction] = sort.split(":");
  const column = columns.find((c) => c.key === key) || columns[0];
  const sign = direction === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (x === y) return 0;
    if (x === null || x === undefined) return 1; // unknown last, either way
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

// Headers are buttons (Tab, Enter); `aria-sort` says the order to a screen reader.
function drawHeader(table, columns, sort, onSort) {
  const [key, direction] = sort.split(":");
  const row = table.querySelector("thead tr");
  row.replaceChildren();
  for (const column of columns) {
    const header = document.createElement("th");
    header.scope = "col";
    if (column.numeric) header.className = "num";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = column.label;
    if (column.key === key) {
      header.setAttribute("aria-sort", direction === "asc" ? "ascending" : "descending");
      header.classList.add(direction === "asc" ? "sorted-asc" : "sorted-desc");
    }
    button.addEventListener("click", () => {
      const next = column.key === key && direction === "desc" ? "asc" : "desc";
      onSort(`${column.key}:${next}`);
    });
    header.append(button);
    row.append(header);
  }
}

function fillRow(row, columns, item) {
  for (const column of columns) {
    const cell = row.insertCell();
    if (column.numeric) cell.className = "num";
    const shown = column.text(item);
    if (shown instanceof Node) cell.append(shown);
    else cell.textContent = shown;
  }
}

// ---- CSV ----------------------------------------------------------------------------

// A text cell that starts like a formula gets a leading ' (names and labels come from
// customers; the API's CSV does the same).
function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function downloadCsv(filename, columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(","));
  const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  URL.revokeObjectURL(link.href);
}
