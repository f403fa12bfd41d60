"""The extract of one tenant-day: run the query set, turn its answers into `Answers`.

Three rounds (etl/metroculus/queries.py says why): round 1 reads every family once,
round 2 finishes what it could not settle (container lives at their boundary hour, the
raw samples of nodes that are not one value all day, the masks of the allocation series
whose life decides something), round 3 those series' boundaries. The queries of a round
are independent, so they run `concurrency` at a time (`PROMQL_CONCURRENCY`); with 1 one
by one. The count of queries is the same whatever the cluster's size.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

from etl.core.days import day_start_epoch
from etl.metroculus import lives, nodes, split
from etl.metroculus.answers import ANSWER, Answers
from etl.metroculus.promql import PromQLClient, PromQLError, Sample, Series, run_concurrently
from etl.metroculus.queries import (
    ALLOCATION,
    DEFAULT_STEP_S,
    MATRIX,
    QUERIES,
    RUNNING,
    TenantDayQuery,
    evaluation_time,
)

Result = list[Sample] | list[Series]
FOLLOW_UP_QUERIES = 4  # round 2: nodes' samples, running edges, allocation lives; round 3
# Every tenant-day sends exactly this many queries (plus the ledger's sample count).
QUERY_COUNT = len(QUERIES) + FOLLOW_UP_QUERIES


def run_query(
    client: PromQLClient, query: TenantDayQuery, tenant: str, day: date, step_s: int
) -> Result:
    """One query of the set, as a vector or (a range selector) a matrix; one the engine
    refuses over its sample limit is sent again in parts (etl/metroculus/split.py)."""
    text = query.render(tenant, step_s)
    at = evaluation_time(day, query.evaluated)
    try:
        if query.kind != MATRIX:
            return client.instant(text, at, tenant)
        return client.matrix(text, at, tenant)
    except PromQLError as error:
        if not split.over_the_limit(error):
            raise
        refused = split.Refused(client, query, tenant, at, step_s, error)
    return split.resend(refused)


def _direct(query: TenantDayQuery, samples: list[Sample]) -> list[list[object]]:
    """Rows of a query whose answer is its vector as is."""
    return [
        [sample.labels.get(label, "") for label in query.labels]
        + ([json.dumps(sample.labels, sort_keys=True)] if query.label_map else [])
        + [sample.value]
        for sample in samples
    ]


def needing_lives(allocation: list[Sample], running: lives.Lives) -> set[str]:
    """Pod names of the allocation series whose life decides something: a container name
    (namespace, pod, container) with several series, or with no running series."""
    names = ("namespace", "pod", "container")
    named = [tuple(s.labels.get(k, "") for k in names) for s in allocation]
    known = {key[: len(names)] for key in running.edges}
    counts = Counter(named)
    return {name[1] for name in named if counts[name] > 1 or name not in known}


def phase_two(
    phase_one: dict[str, Result], day: date, step_s: int
) -> tuple[list[TenantDayQuery], lives.Lives, nodes.NodeSeries]:
    """Round 2's queries, from round 1's answers (and what they settled)."""
    lo = day_start_epoch(day)
    running = lives.summarize(RUNNING, phase_one["running_summary"], lo, step_s)
    settled, complex_nodes = nodes.simple_nodes(phase_one["node_summary"], step_s)
    pods = needing_lives(phase_one["container_cpu_allocation"], running)
    queries = [
        nodes.node_samples_query(complex_nodes),
        TenantDayQuery(
            "running_edges", lives.refine_query(running, lo, step_s), shard_by=RUNNING.name_label
        ),
        ALLOCATION.summary(lives.names_matcher(ALLOCATION.name_label, pods)),
    ]
    return queries, running, settled


def extract(
    client: PromQLClient,
    tenant: str,
    day: date,
    step_s: int = DEFAULT_STEP_S,
    concurrency: int = 1,
) -> Answers:
    """Run every query for the tenant-day: answer name -> frame of label columns + `value`.

    `step_s` is the cluster's scrape interval (the steps of every per-step definition).
    """

    def run_all(queries: list[TenantDayQuery]) -> dict[str, Result]:
        answers = run_concurrently(
            lambda q: run_query(client, q, tenant, day, step_s), queries, concurrency
        )
        return dict(zip([q.name for q in queries], answers, strict=True))

    lo = day_start_epoch(day)
    first = run_all(list(QUERIES))
    second_queries, running, settled = phase_two(first, day, step_s)
    second = run_all(second_queries)
    lives.finish(running, second["running_edges"], lo, step_s)
    allocation = lives.summarize(ALLOCATION, second["allocation_summary"], lo, step_s)
    third = run_all(
        [
            TenantDayQuery(
                "allocation_edges",
                lives.refine_query(allocation, lo, step_s),
                shard_by=ALLOCATION.name_label,
            )
        ]
    )
    lives.finish(allocation, third["allocation_edges"], lo, step_s)
    answers: Answers = {}
    for query in QUERIES:
        if query.labels:
            answers[query.name] = ANSWER[query.name].frame(_direct(query, first[query.name]))
    for prefix, lived in (("container", running), ("container_allocation", allocation)):
        for edge in ("first", "last"):
            name = f"{prefix}_{edge}_seen"
            answers[name] = ANSWER[name].frame(lives.rows(lived, edge))
    day_of = nodes._Day(lo, step_s)
    answers.update(nodes.node_answers(settled, second["node_samples"], day_of))
    answers.update(nodes.small_answers(first["small_family_samples"], day_of))
    egress = answers["pod_network_egress_bytes"]
    classes = list(ANSWER["network_egress_bytes"].labels)
    answers["network_egress_bytes"] = ANSWER["network_egress_bytes"].frame(
        egress.groupby(classes, as_index=False, sort=True)["value"].sum().values.tolist()
    )
    return {answer: answers[answer] for answer in ANSWER}
