"""The dashboard pages' API calls, timed in-process (not part of the suite).

On bench/api.py's organization (`--data-dir` reuses a loaded directory), through the
Flask test client with a token, so that what is timed is the API process's own work
(no browser, no HTTP): each call once (a new period or filter computes its rollups
then: docs/api.md, "breakdown_expenses and clean_expenses read rollups of their own"),
then `--requests` more, printed as the first, the median and the max. The calls are
the ones the pages send (api/ui/static/*.js) over the bench's 30-day period; the
cluster is the period's most expensive. `--profile NAME` prints the cProfile of the
later requests of the calls whose name holds NAME; `--only NAME` times only those.

    .venv/bin/python -m bench.pagecalls [--data-dir DIR] [--requests N] [--profile NAME]
        [--only NAME]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from api.app import create_app
from api.auth import issue_token
from bench.api import ORG, PERIOD, add_budgets, loaded


def page_calls(period: str, cluster: str, last_day: int) -> list[tuple[str, str]]:
    """(name, endpoint and query) of each call the pages send."""
    as_of = datetime.fromtimestamp(last_day, UTC).date().isoformat()
    return [
        (
            "overview: breakdown_expenses by service_name",
            f"breakdown_expenses?{period}&breakdown_by=service_name",
        ),
        ("overview: clean_expenses limit=50", f"clean_expenses?{period}&limit=50&offset=0"),
        (
            "cluster: breakdown_expenses by k8s_component",
            f"breakdown_expenses?{cluster}&breakdown_by=k8s_component",
        ),
        ("cluster: clean_expenses", f"clean_expenses?{cluster}"),
        (
            "alerts: clean_expenses of clusters",
            f"clean_expenses?{period}&resource_type=K8s%20Cluster",
        ),
        ("alerts: k8s_alerts", f"k8s_alerts?{period}"),
        ("budgets: budgets", f"budgets?as_of={as_of}"),
        ("bills: bills", f"bills?{period}"),
        ("allocation: k8s_costs by namespace", f"k8s_costs?{period}&group_by=namespace"),
        (
            "allocation: k8s_costs chart step=day",
            f"k8s_costs?{period}&group_by=namespace&step=day",
        ),
        ("savings: k8s_recommendations", f"k8s_recommendations?{period}"),
        ("health: k8s_import_status", f"k8s_import_status?{period}"),
        ("health: ingest_status", "ingest_status"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="reuse a loaded directory")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--profile", help="profile the calls whose name holds this")
    parser.add_argument("--only", help="time only the calls whose name holds this")
    arguments = parser.parse_args()
    settings, db = loaded(arguments.data_dir)
    add_budgets(db)
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {issue_token(db, ORG)}"}
    base = f"/restapi/v2/organizations/{ORG}/"
    period = f"start_date={PERIOD[0]}&end_date={PERIOD[1]}"
    clusters = client.get(
        f"{base}clean_expenses?{period}&resource_type=K8s%20Cluster", headers=headers
    ).get_json()
    account = clusters["clean_expenses"][0]["cloud_account_id"]
    for name, url in page_calls(period, f"{period}&cloud_account_id={account}", PERIOD[1]):
        if arguments.only and arguments.only not in name:
            continue
        profiler = cProfile.Profile() if arguments.profile and arguments.profile in name else None
        taken = []
        for attempt in range(arguments.requests + 1):
            if profiler and attempt == 1:
                profiler.enable()
            started = time.perf_counter()
            response = client.get(base + url, headers=headers)
            taken.append(time.perf_counter() - started)
            assert response.status_code == 200, response.get_data(as_text=True)
        later = taken[1:]
        print(
            f"{name:<46} first {taken[0]:.3f} s, median {statistics.median(later):.3f} s, "
            f"max {max(later):.3f} s",
            flush=True,
        )
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
