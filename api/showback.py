"""Scheduled showback reports: definitions, when a period is due, and the files written.

A report (etl/storage/reports.py) is a `k8s_costs` question asked on a schedule for one
organization: a scope (the scopes of api/query/tokenscope.py), a grouping (any
`k8s_costs` grouping, `label:<key>` included, one level or two: `namespace,label:team`),
a period (`weekly`, Monday to Sunday UTC; `monthly`, a calendar month), the sharing
options over the organization's defaults, a format (`csv`, `parquet`) and a destination
(`s3://bucket/prefix/` or `file:///path/`). Its figures are the API's: `run_due` asks
`find_groups` (api/routes/k8s_costs.py) inside a request context of the API app with the
report's scope as the token's, so a report's total is the API's answer to the cent.

A period is written once it has closed and every day of it is settled in the ledger
(etl/worker/ledger.py: loaded, checked or without data) for each cluster of the scope;
the ledger state of those days is the report's fingerprint, so when a day is restated
(rerun, loaded again) the next run writes the period again as a new version. Each file
has a manifest beside it: period, version, totals, the source days and their state.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from flask import g

from api.app import create_app
from api.context import CLICKHOUSE_EXTENSION, mongodb
from api.query.sharing import request_policy
from api.query.tokenscope import TokenScope
from api.routes.k8s_costs import SHARED_PARTS, find_groups, group_totals
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.core.sharing import SharingPolicy
from etl.storage import reports as store
from etl.storage.objects import write_object
from etl.storage.pricing import default_metric
from etl.storage.registry import K8S_ACCOUNT_TYPE, list_accounts, open_database
from etl.storage.sqlfiles import GROUP_PARTS_SEPARATOR
from etl.worker import ledger

log = logging.getLogger(__name__)


def last_closed_period(period: str, today: date) -> tuple[date, date]:
    """The latest period of this kind that ended before `today` (first and last day)."""
    if period == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        return monday, monday + timedelta(days=6)
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def source_days(db: Any, report: dict[str, Any], first: date, last: date) -> list[dict[str, Any]]:
    """Each (cluster of the scope, day) of the period with its ledger state."""
    scope = TokenScope.parse(report["scopes"], "viewer")
    clusters = scope.sees_accounts(
        sorted(a["_id"] for a in list_accounts(db, K8S_ACCOUNT_TYPE, report["organization_id"]))
    )
    records = ledger.find_records(db, clusters, first, last)
    days = []
    for day in ledger.days_between(first, last):
        for cluster in clusters:
            record = records.get((cluster, day.isoformat()), {})
            days.append(
                {
                    "cloud_account_id": cluster,
                    "date": day.isoformat(),
                    "status": record.get("status", "missing"),
                    "run_id": record.get("run_id"),
                    "updated_at": record.get("updated_at"),
                }
            )
    return days


def _fingerprint(days: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(days, sort_keys=True).encode()).hexdigest()


def report_groups(
    app: Any, report: dict[str, Any], first: date, last: date
) -> tuple[list, SharingPolicy, str]:
    """The API's k8s_costs groups for the report's period, scope and options; the
    sharing policy and the cost metric they are in."""
    organization_id = report["organization_id"]
    with app.test_request_context():
        g.organization_id = organization_id
        g.token_scope = TokenScope.parse(report["scopes"], "viewer")
        policy = request_policy(mongodb(), organization_id, report["sharing"])
        # The report's metric, else its organization's default when written.
        metric = report.get("cost_metric") or default_metric(mongodb(), organization_id)
        query = {
            "start_date": day_start_epoch(first),
            "end_date": day_start_epoch(last),
            "group_by": report["group_by"],
            "cost_metric": metric,
        }
        return find_groups(organization_id, query, policy), policy, metric


def _table(report: dict[str, Any], groups: list[dict[str, Any]], policy: SharingPolicy) -> pa.Table:
    parts = report["group_by"].split(",")
    keys = [group["key"].split(GROUP_PARTS_SEPARATOR) for group in groups]
    columns: dict[str, list[Any]] = {part: [key[i] for key in keys] for i, part in enumerate(parts)}
    for column in COMPONENTS:
        columns[column] = [group[column] for group in groups]
    if policy.active:
        for part in SHARED_PARTS:
            columns[f"shared_{part}"] = [group["shared"][part] for group in groups]
    columns["cost"] = [group["cost"] for group in groups]
    types = {name: pa.string() if name in parts else pa.float64() for name in columns}
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()})


def _encode(table: pa.Table, file_format: str) -> bytes:
    sink = io.BytesIO()
    if file_format == "csv":
        pa_csv.write_csv(table, sink)
    else:
        pq.write_table(table, sink)
    return sink.getvalue()


def write_report(
    settings: Settings,
    app: Any,
    report: dict[str, Any],
    first: date,
    last: date,
    version: int,
    days: list,
) -> dict[str, Any]:
    """Write the period's file and manifest; the manifest."""
    groups, policy, metric = report_groups(app, report, first, last)
    table = _table(report, groups, policy)
    folder = f"{report['destination']}{report['name']}/{first.isoformat()}/v{version}/"
    file_uri = f"{folder}{report['name']}_{first.isoformat()}_{last.isoformat()}.{report['format']}"
    write_object(settings, file_uri, _encode(table, report["format"]))
    totals = group_totals(groups, policy)
    manifest = {
        "report_id": report["_id"],
        "name": report["name"],
        "organization_id": report["organization_id"],
        "period": {
            "kind": report["period"],
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
        },
        "version": version,
        "group_by": report["group_by"],
        "scopes": report["scopes"],
        "sharing": policy.document(),
        "cost_metric": metric,
        "format": report["format"],
        "file": file_uri,
        "rows": table.num_rows,
        "totals": totals,
        "source_days": days,
        "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_object(settings, f"{folder}manifest.json", json.dumps(manifest, indent=2).encode())
    return manifest


def run_due(settings: Settings, today: date) -> list[dict[str, Any]]:
    """Write every report whose last closed period is complete and not yet written from
    this ledger state (a first version, or a new one after a restatement); the manifests
    written. A period with days not yet settled is left for a later run."""
    db = open_database(settings.mongo_uri, settings.mongo_db)
    app = create_app(settings)
    try:
        return [
            manifest
            for report in store.list_reports(db)
            if (manifest := _run_one(settings, db, app, report, today)) is not None
        ]
    finally:  # let go of an embedded ClickHouse at once (the API may be waiting for it)
        app.extensions[CLICKHOUSE_EXTENSION].close()


def _run_one(
    settings: Settings, db: Any, app: Any, report: dict[str, Any], today: date
) -> dict[str, Any] | None:
    """Write one report's last closed period if it is due; its manifest, else None."""
    first, last = last_closed_period(report["period"], today)
    days = source_days(db, report, first, last)
    unsettled = [d for d in days if d["status"] not in ledger.SETTLED]
    if not days or unsettled:
        log.info(
            "report %s: %s to %s not complete (%d day(s) unsettled)",
            report["name"],
            first,
            last,
            len(unsettled),
        )
        return None
    fingerprint = _fingerprint(days)
    latest = store.latest_version(db, report["_id"], first.isoformat())
    if latest is not None and latest["fingerprint"] == fingerprint:
        return None
    version = 1 if latest is None else latest["version"] + 1
    manifest = write_report(settings, app, report, first, last, version, days)
    store.record_version(
        db,
        {
            "report_id": report["_id"],
            "period_start": first.isoformat(),
            "version": version,
            "fingerprint": fingerprint,
            "file": manifest["file"],
            "total": manifest["totals"]["cost"],
            "written_at": int(time.time()),
        },
    )
    log.info("report %s: wrote %s (version %d)", report["name"], manifest["file"], version)
    return manifest
