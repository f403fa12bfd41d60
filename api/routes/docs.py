# ruff: noqa: E501  (the page below is HTML and JavaScript, kept in one string)
"""`/docs`: a self-contained page that renders /openapi.json, offline.

APIFlask's documentation UIs (Swagger UI, ReDoc, Elements...) load their scripts
from a CDN and show a blank page without internet access; this page is plain HTML
and a few lines of JavaScript served from here, listing every operation with its
parameters and responses, and every schema with its fields.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

bp = APIBlueprint("docs", __name__, enable_openapi=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>k8scost API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{font-weight:bold;text-transform:uppercase;color:#fff;background:#2a7;padding:0 .5em;border-radius:3px}
code{background:#f4f4f4;padding:0 .25em}table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
</style></head><body>
<h1 id="title">k8scost API</h1>
<p>The machine-readable document is <a href="openapi.json">/openapi.json</a>.
Send <code>Authorization: Bearer &lt;token&gt;</code> (from <code>k8scost tokens create</code>)
to every endpoint but <code>/livez</code> and <code>/readyz</code>.</p>
<div id="ops"></div><h2>Schemas</h2><div id="schemas"></div>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"})[c]);
const ref = r => r.split("/").pop();
const type = s => !s ? "" : s.$ref ? `<a href="#${esc(ref(s.$ref))}">${esc(ref(s.$ref))}</a>`
  : s.type === "array" ? `array of ${type(s.items)}` : esc(s.type || "");
const row = cells => `<tr>${cells.map(c => `<td>${c}</td>`).join("")}</tr>`;
fetch("openapi.json").then(r => r.json()).then(spec => {
  document.getElementById("title").textContent = `${spec.info.title} ${spec.info.version}`;
  let ops = "";
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters || []).map(p => row([`<code>${esc(p.name)}</code>`, esc(p.in),
        p.required ? "yes" : "", type(p.schema), esc(p.description)])).join("");
      const answers = Object.entries(op.responses || {}).map(([code, r]) => row([esc(code),
        esc(r.description), Object.entries(r.content || {}).map(([t, c]) => `${esc(t)}: ${type(c.schema)}`).join("<br>")])).join("");
      ops += `<div class="op"><p><span class="m">${esc(method)}</span> <code>${esc(path)}</code> ${esc(op.summary)}</p>
        <p>${esc(op.description)}</p>
        ${params ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th>description</th></tr>${params}</table>` : ""}
        <table><tr><th>status</th><th>meaning</th><th>body</th></tr>${answers}</table></div>`;
    }
  }
  document.getElementById("ops").innerHTML = ops;
  let schemas = "";
  for (const [name, s] of Object.entries(spec.components?.schemas || {})) {
    const required = new Set(s.required || []);
    const fields = Object.entries(s.properties || {}).map(([f, p]) => row([`<code>${esc(f)}</code>`,
      type(p), required.has(f) ? "yes" : "", esc(p.description)])).join("");
    schemas += `<h3 id="${esc(name)}">${esc(name)}</h3><table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>${fields}</table>`;
  }
  document.getElementById("schemas").innerHTML = schemas;
});
</script></body></html>
"""


@bp.get("/docs")
def page() -> Response:
    """The API's documentation page."""
    return Response(PAGE, mimetype="text/html")
