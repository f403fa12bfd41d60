"""The number of queries of a tenant-day does not depend on the number of pods.

The phase-1 queries are a fixed tuple; the phase-2 ones are built from phase 1's answers
(etl/metroculus/extract.py). So the extract is run here against a stand-in client that
answers phase 1 as a cluster of 50 and of 5,000 pods would, every container and node
needing phase 2 (the worst case), and the queries it sends are counted; a real small
run against Prometheus counts the same (tests/e2e/test_pipeline.py).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from etl.metroculus.extract import QUERY_COUNT, extract
from etl.metroculus.promql import QueryCounter, Sample, Series
from etl.metroculus.queries import (
    ALLOCATION,
    FAMILY,
    NODE_SUMMARY,
    PART,
    RUNNING,
    render,
)

TENANT = "t-1"
DAY = date(2026, 6, 2)


class ClusterOfPods:
    """Answers phase 1 like a cluster of `pods` pods that all started and stopped during
    the day, on `pods / 25` nodes whose prices moved; records every query sent."""

    def __init__(self, pods: int) -> None:
        self.pods = pods
        self.sent: list[str] = []
        self.counter = QueryCounter()

    def _answer(self, query: str) -> list[Sample]:
        if query == render(RUNNING.summary().template, TENANT):
            keys = {"container": "c", "uid": ""}
        elif ALLOCATION.metric in query and '"mask"' in query:
            keys = {"container": "c", "uid": "", "node": "n0"}
        elif query.startswith(
            f"max by (namespace, pod, container, uid, node) (avg_over_time({ALLOCATION.metric}"
        ):
            # Two series per name (a recreated pod on another node): every life is needed.
            return [
                Sample(
                    {"namespace": "ns", "pod": f"pod-{i}", "container": "c", "node": f"n{j}"}, 1.0
                )
                for i in range(self.pods)
                for j in (0, 1)
            ]
        elif query == render(NODE_SUMMARY.template, TENANT):
            return [
                Sample({"node": f"n{i}", FAMILY: "node_cpu_hourly_cost", PART: "changes"}, 3.0)
                for i in range(max(1, self.pods // 25))
            ]
        else:
            return []
        return [
            Sample({"namespace": "ns", "pod": f"pod-{i}", **keys, PART: "mask"}, 2.0 ** (i % 24))
            for i in range(self.pods)
        ]

    def instant(self, query: str, at: datetime, tenant: str) -> list[Sample]:
        self.sent.append(query)
        return self._answer(query)

    def matrix(self, query: str, at: datetime, tenant: str) -> list[Series]:
        self.sent.append(query)
        return []


@pytest.mark.parametrize("concurrency", [1, 4])
def test_50_and_5000_pods_send_the_same_number_of_queries(concurrency):
    counts = {}
    for pods in (50, 5000):
        client = ClusterOfPods(pods)
        extract(client, TENANT, DAY, 60, concurrency)
        counts[pods] = len(client.sent)
        # Phase 2 did select every pod and node: the count is not kept by sending less.
        for family in (RUNNING, ALLOCATION):
            refine = [q for q in client.sent if "@ " in q and family.metric in q]
            assert len(refine) == 1 and f"pod-{pods - 1}" in refine[0]
        assert any(f"n{max(1, pods // 25) - 1}" in q for q in client.sent if "__name__" in q)
    assert counts == {50: QUERY_COUNT, 5000: QUERY_COUNT}
