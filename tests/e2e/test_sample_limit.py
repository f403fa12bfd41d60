"""A raw-sample fetch over the engine's sample limit is split into windows, exactly."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from etl.metroculus.extract import TOO_MANY_SAMPLES, run_query
from etl.metroculus.promql import PromQLClient, PromQLError, Series
from etl.metroculus.queries import SMALL_SAMPLES

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
