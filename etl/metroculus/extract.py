"""The extract of one tenant-day: the query set's three rounds, answers as Thanos gave them.

Three rounds (etl/metroculus/queries.py says why): round 1 reads every family once,
round 2 finishes what it could not settle (container lives at their boundary hour, the
raw samples of nodes that are not one value all day, the masks of the allocation series
whose life decides something), round 3 those series' boundaries. The queries of a round
are independent, so they run `concurrency` at a time (`PROMQL_CONCURRENCY`); with 1 one
by one. The count of queries is the same whatever the cluster's size, and it is every
query a tenant-day sends: the ledger's completeness measure comes from round 1's answers
(etl/metroculus/samples.py).

What it returns are the raw answers (`Rounds`), which the archive keeps as they are;
turning them into the cost model's answers is the transform's (etl/metroculus/derive.py),
run at load time, so a fix there replays onto archived days. Between rounds it settles
what decides the next round's queries (lives, settled nodes), and only that.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from etl.core.days import day_start_epoch
from etl.metroculus import lives, nodesummary, split
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
# Query name -> its raw answer, the three rounds together (names are unique).
Rounds = dict[str, Result]
# Round 2: nodes' samples, running edges, allocation lives; round 3: allocation edges.
FOLLOW_UP = ("node_samples", "running_edges", "allocation_summary", "allocation_edges")
# Every query a tenant-day sends.
ROUND_QUERIES = (*(query.name for query in QUERIES), *FOLLOW_UP)
QUERY_COUNT = len(ROUND_QUERIES)
# The version of what an extract holds: the queries' names, what they select and how their
# answers are shaped. Raise it with any such change: an archive of another version is
# refused on replay (etl/worker/archive.py), since the transform would misread it.
# 1: the transformed answers (before 2026-12-07); 2: the rounds' raw answers, the price
# sheets' node_labels query included.
CONTRACT_VERSION = 2


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


def needing_lives(allocation: list[Sample], running: lives.Lives) -> set[str]:
    """Pod names of the allocation series whose life decides something: a container name
    (namespace, pod, container) with several series, or with no running series."""
    names = ("namespace", "pod", "container")
    named = [tuple(s.labels.get(k, "") for k in names) for s in allocation]
    known = {key[: len(names)] for key in running.edges}
    counts = Counter(named)
    return {name[1] for name in named if counts[name] > 1 or name not in known}


def phase_two(phase_one: Rounds, day: date, step_s: int) -> list[TenantDayQuery]:
    """Round 2's queries, from round 1's answers (and what they settled)."""
    lo = day_start_epoch(day)
    running = lives.summarize(RUNNING, phase_one["running_summary"], lo, step_s)
    _, complex_nodes = nodesummary.simple_nodes(phase_one["node_summary"], step_s)
    pods = needing_lives(phase_one["container_cpu_allocation"], running)
    return [
        nodesummary.node_samples_query(complex_nodes),
        TenantDayQuery(
            "running_edges", lives.refine_query(running, lo, step_s), shard_by=RUNNING.name_label
        ),
        ALLOCATION.summary(lives.names_matcher(ALLOCATION.name_label, pods)),
    ]


def extract(
    client: PromQLClient,
    tenant: str,
    day: date,
    step_s: int = DEFAULT_STEP_S,
    concurrency: int = 1,
) -> Rounds:
    """Send every query of the tenant-day; returns each one's raw answer by name.

    `step_s` is the cluster's scrape interval (the steps of every per-step definition).
    """

    def run_all(queries: list[TenantDayQuery]) -> Rounds:
        answers = run_concurrently(
            lambda q: run_query(client, q, tenant, day, step_s), queries, concurrency
        )
        return dict(zip([q.name for q in queries], answers, strict=True))

    lo = day_start_epoch(day)
    rounds = run_all(list(QUERIES))
    rounds.update(run_all(phase_two(rounds, day, step_s)))
    allocation = lives.summarize(ALLOCATION, rounds["allocation_summary"], lo, step_s)
    edges = TenantDayQuery(
        "allocation_edges",
        lives.refine_query(allocation, lo, step_s),
        shard_by=ALLOCATION.name_label,
    )
    rounds.update(run_all([edges]))
    return rounds
