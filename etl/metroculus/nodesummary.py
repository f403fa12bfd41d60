"""Round 1's node figures: which nodes are settled by them, which need their raw samples.

Node series are settled one of two ways (etl/metroculus/queries.py, `NODE_SUMMARY`): a
node all of whose series were seen at the day's first and last step with no change and
at least one sample per scrape interval (`count >= 86400 / R`) holds one value all day;
any other node (a spot price that moved, a node replaced mid-day, a scrape gap) has its
raw samples fetched in round 2 (`node_samples_query`). Apart from the node answers
(etl/metroculus/nodes.py) because the extract decides round 2 with it and imports no
answer contract, while the transform settles the same nodes again from the archive.
"""

from __future__ import annotations

from collections import defaultdict

from etl.metroculus.lives import names_matcher
from etl.metroculus.promql import Sample, Series
from etl.metroculus.queries import FAMILY, MATRIX, NODE_FAMILIES, PART, TenantDayQuery

NodeSeries = dict[tuple[str, str], list[Series]]  # (family, node) -> raw series


def simple_nodes(samples: list[Sample], step_s: int) -> tuple[NodeSeries, set[str]]:
    """Phase 1's node figures -> (series of settled nodes, as one-value stand-ins; the
    nodes whose raw samples are needed)."""
    figures: dict[tuple[str, str, tuple], dict[str, float]] = defaultdict(dict)
    labels_of: dict[tuple[str, str, tuple], dict[str, str]] = {}
    for sample in samples:
        # last_over_time keeps the metric name, count_over_time drops it.
        labels = {k: v for k, v in sample.labels.items() if k not in (PART, FAMILY, "__name__")}
        key = (sample.labels[FAMILY], labels.get("node", ""), tuple(sorted(labels.items())))
        figures[key][sample.labels[PART]] = sample.value
        labels_of[key] = labels
    complex_nodes = set()
    for (_, node, _), got in figures.items():
        simple = (
            got.get("count", 0) >= 86400 // step_s
            and got.get("changes", 1) == 0
            and "start" in got
            and "end" in got
        )
        if not simple:
            complex_nodes.add(node)
    settled: NodeSeries = defaultdict(list)
    for key, got in figures.items():
        family, node, _ = key
        if node not in complex_nodes:
            settled[(family, node)].append(Series(labels_of[key], [], [got["end"]]))
    return settled, complex_nodes


def node_samples_query(nodes: set[str]) -> TenantDayQuery:
    """Phase 2: the raw samples of every node family for the nodes that need them."""
    return TenantDayQuery(
        "node_samples",
        f'{{sel,__name__=~"{"|".join(NODE_FAMILIES)}",{names_matcher("node", nodes)}}}[{{raw}}]',
        kind=MATRIX,
    )
