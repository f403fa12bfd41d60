"""Queries over the engine's sample limit are sent again in parts, exactly: a raw-sample
fetch in windows of time, any other in parts of its series (etl/metroculus/split.py)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import requests

from devtools.localprom import PrometheusServer
from etl.metroculus.derive import answers
from etl.metroculus.extract import extract, run_query
from etl.metroculus.promql import PromQLClient, PromQLError, Series
from etl.metroculus.queries import (
    QUERIES,
    SMALL_SAMPLES,
    VECTOR,
    evaluation_time,
)
from etl.metroculus.split import PARTS, TOO_MANY_SAMPLES, shard_matchers

pytestmark = pytest.mark.e2e


class Limited(PromQLClient):
    """A real client whose engine refuses a range selector wider than six hours, the way
    Prometheus refuses a query over `--query.max-samples`."""

    def matrix(self, query: str, at: datetime, tenant: str) -> list[Series]:
        width = re.search(r"\[(\d+)(ms|s)\]", query.rsplit("{", 1)[1])
        seconds = int(width[1]) / (1000 if width[2] == "ms" else 1)
        if seconds > 6 * 3600:
            raise PromQLError(f"query processing would load {TOO_MANY_SAMPLES} into memory")
        return super().matrix(query, at, tenant)


def by_labels(series: list[Series]) -> dict:
    return {tuple(sorted(s.labels.items())): (list(s.times), list(s.values)) for s in series}


def test_a_fetch_over_the_limit_comes_back_whole_in_windows(simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[1]
    whole = run_query(PromQLClient(simulated_prometheus.url), SMALL_SAMPLES, tenant, day, 60)
    limited = Limited(simulated_prometheus.url)
    split = run_query(limited, SMALL_SAMPLES, tenant, day, 60)
    assert whole and by_labels(split) == by_labels(whole)
    # Refused whole, in 2 and in 4 windows (not sent, so not counted); sent in 8.
    assert limited.counter.queries == 8


def peak_samples(url: str, text: str, at: datetime) -> int:
    """The peak of samples Prometheus held for one query (`stats=all`)."""
    data = {"query": text, "time": f"{at.timestamp():.3f}", "stats": "all"}
    body = requests.post(f"{url}/api/v1/query", data=data, timeout=60).json()
    return body["data"]["stats"]["samples"]["peakSamples"]


def rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_a_tenant_day_over_the_sample_limit_is_answered_whole_in_parts(
    simulated_prometheus, tmp_path: Path
):
    """A real Prometheus with the lowest `--query.max-samples` the set can be answered
    at refuses its larger queries and raw fetches: the extract sends them again in
    parts and its answers are the unlimited server's, row for row."""
    sim = simulated_prometheus
    tenant, day = sim.tenant_ids[0], sim.days[1]
    unlimited = PromQLClient(sim.url)
    whole = answers(extract(unlimited, tenant, day, 60), day, 60)
    peaks = {
        q.name: peak_samples(sim.url, q.render(tenant), evaluation_time(day, q.evaluated))
        for q in QUERIES
        if q.kind == VECTOR
    }
    # The tightest limit the set can be answered at: what the queries that cannot be split
    # need, and what the largest part of each other one needs when sent in the most parts.
    parts = [
        max(peak_samples(sim.url, q.render(tenant, 60, shard), at) for shard in shards)
        for q in QUERIES
        if q.kind == VECTOR and q.shard_label()
        for at in [evaluation_time(day, q.evaluated)]
        for shards in [shard_matchers(q.shard_label(), PARTS[-1])]
    ]
    unsplittable = [peaks[q.name] for q in QUERIES if q.name in peaks and not q.shard_label()]
    limit = max(*parts, *unsplittable)
    blocks = sim.scenario_path.parent.parent / "tsdb"  # immutable blocks, copied as is
    shutil.copytree(blocks, tmp_path / "tsdb", ignore=shutil.ignore_patterns("wal", "lock"))
    with PrometheusServer(tmp_path / "tsdb", extra_args=[f"--query.max-samples={limit}"]) as server:
        limited = PromQLClient(server.url)
        parted = answers(extract(limited, tenant, day, 60), day, 60)
    refused = [name for name, peak in peaks.items() if peak > limit]
    assert {"container_cpu_usage_p95", "container_cpu_usage_max"} <= set(refused)  # subqueries
    assert limited.counter.queries > unlimited.counter.queries + len(refused)
    assert whole.keys() == parted.keys()
    for name, frame in whole.items():
        pd.testing.assert_frame_equal(rows(parted[name]), rows(frame), check_exact=True)
