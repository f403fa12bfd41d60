"""The transform: a tenant-day's raw round answers -> the answers the cost model reads.

Run at every load, on the answers as the archive holds them (etl/worker/archive.py), so
that a fix here, in the lives (etl/metroculus/lives.py), the held values
(etl/metroculus/held.py) or the node answers (etl/metroculus/nodes.py) gives its result
when an archived day is replayed. It settles the lives and nodes again from round 1, as
the extract did to choose rounds 2 and 3, and finishes them with those rounds' answers.
"""

from __future__ import annotations

import json
from datetime import date

from etl.core.answers import ANSWER, Answers
from etl.core.days import day_start_epoch
from etl.core.labels import USAGE_CONTAINER
from etl.metroculus import lives, nodes, nodesummary
from etl.metroculus.extract import Rounds
from etl.metroculus.promql import Sample
from etl.metroculus.queries import ALLOCATION, QUERIES, RUNNING, TenantDayQuery


def _direct(query: TenantDayQuery, samples: list[Sample]) -> list[list[object]]:
    """Rows of a query whose answer is its vector as is."""
    return [
        [sample.labels.get(label, "") for label in query.labels]
        + ([json.dumps(sample.labels, sort_keys=True)] if query.label_map else [])
        + [sample.value]
        for sample in samples
    ]


def working_set_average(rounds: Rounds) -> list[list[object]]:
    """Rows (container..., average working set): each container's working-set sum over its
    sample count, two answers of round 1 (etl/metroculus/usage.py says why not in PromQL)."""

    def key(sample: Sample) -> tuple[str, ...]:
        return tuple(sample.labels.get(label, "") for label in USAGE_CONTAINER)

    counts = {key(sample): sample.value for sample in rounds["container_usage_samples"]}
    return [
        [*named, sample.value / counts[named]]
        for sample in rounds["container_memory_working_set_sum"]
        if counts.get(named := key(sample))
    ]


def answers(rounds: Rounds, day: date, step_s: int) -> Answers:
    """Every answer of the contract (etl/core/answers.py) from the rounds' raw answers."""
    lo = day_start_epoch(day)
    derived: Answers = {}
    for query in QUERIES:
        if query.name in ANSWER:
            derived[query.name] = ANSWER[query.name].frame(_direct(query, rounds[query.name]))
    average = ANSWER["container_memory_working_set_avg"]
    derived[average.name] = average.frame(working_set_average(rounds))
    running = lives.summarize(RUNNING, rounds["running_summary"], lo, step_s)
    lives.finish(running, rounds["running_edges"], lo, step_s)
    allocation = lives.summarize(ALLOCATION, rounds["allocation_summary"], lo, step_s)
    lives.finish(allocation, rounds["allocation_edges"], lo, step_s)
    for prefix, lived in (("container", running), ("container_allocation", allocation)):
        for edge in ("first", "last"):
            name = f"{prefix}_{edge}_seen"
            derived[name] = ANSWER[name].frame(lives.rows(lived, edge))
    settled, _ = nodesummary.simple_nodes(rounds["node_summary"], step_s)
    day_of = nodes.Day(lo, step_s)
    derived.update(nodes.node_answers(settled, rounds["node_samples"], day_of))
    derived.update(nodes.small_answers(rounds["small_family_samples"], day_of))
    egress = derived["pod_network_egress_bytes"]
    classes = list(ANSWER["network_egress_bytes"].labels)
    derived["network_egress_bytes"] = ANSWER["network_egress_bytes"].frame(
        egress.groupby(classes, as_index=False, sort=True)["value"].sum().values.tolist()
    )
    return {answer: derived[answer] for answer in ANSWER}
