"""The K8s clusters among clean_expenses items: their breakdowns and billed nodes, as columns.

A cluster item adds `k8s_costs` (its breakdown), `billed_nodes` (the bill's node
VMs folded into it, docs/api.md), `reconciliation` (what pricing its nodes and PVs
from the bill changed, when its cost was read from its own rows) and, with sharing,
`shared` (what each rule added) to the fields every item has. An answer can
hold thousands of clusters and their nodes; kept as Arrow columns, their JSON is
laid out by Arrow compute as the items' is (api/render/arrowbytes.py), and dicts are
built for CSV only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.catalog.catalog import Catalog
from api.render.arrowbytes import BYTES, NOTHING, json_floats, json_numbers
from api.render.itemindex import resource_keys
from api.render.items import EncodedItems, billed_node
from etl.costmodel.assets import COMPONENTS

NODE_COLUMNS = ("resource_id", "cloud_account_id", "cost")
NODE_TYPES = (pa.string(), pa.string(), pa.float64())


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value.encode(), BYTES)


# `,"k8s_costs":{"cpu_cost":` before the first component, `,"ram_cost":` before the next...
COMPONENT_KEYS = [
    _text((',"k8s_costs":{' if index == 0 else ",") + f'"{name}":')
    for index, name in enumerate(COMPONENTS)
]
# `,"shared":{"idle":` before the first part, `,"namespaces":` before the next...
SHARED_PARTS = ("idle", "namespaces", "overhead")
SHARED_KEYS = [
    _text((',"shared":{' if index == 0 else ",") + f'"{name}":')
    for index, name in enumerate(SHARED_PARTS)
]
BREAKDOWN_END, NODES_START, NODE_END, NODE_SEPARATOR, NODES_END, CLUSTER_END = (
    _text("}"),
    _text(',"billed_nodes":['),
    _text("}"),
    _text(","),
    _text("]"),
    _text("},"),
)
# The query's columns (sql/queries/clean_expenses_costs.sql) -> the names of the
# `reconciliation` field (the dashboard's bills page reads these), then `adjustment`.
RECONCILED_COLUMNS = {
    "reconciled_node_days": "matched_node_days",
    "reconciled_nodes": "matched_nodes",
    "reconciled_volume_days": "matched_volume_days",
    "reconciled_volumes": "matched_volumes",
    "reconciled_list_cost": "list_cost",
    "reconciled_bill_cost": "bill_cost",
}
RECONCILED_COUNTS = 4  # the counts come first, then list_cost and bill_cost
RECONCILED_TYPES = (*[pa.uint64()] * RECONCILED_COUNTS, pa.float64(), pa.float64())
ADJUSTMENT = "adjustment"


def _reconciliation_keys(metric: str) -> list[pa.Scalar]:
    """`,"reconciliation":{"cost_metric":"<metric>","matched_node_days":` and the
    keys before each next value, `adjustment`'s last."""
    names = [*RECONCILED_COLUMNS.values(), ADJUSTMENT]
    start = f',"reconciliation":{{"cost_metric":{json.dumps(metric)},"{names[0]}":'
    return [_text(start), *(_text(f',"{name}":') for name in names[1:])]


def _counts(values: pa.Array) -> pa.LargeBinaryArray:
    return pc.cast(pc.cast(values, pa.large_string()), BYTES)


@dataclass(frozen=True)
class Clusters:
    """Which items are clusters (`positions`), their breakdowns and their billed nodes.

    Cluster `i` is item `positions[i]`; its breakdown is row `i` of `breakdown` and
    its billed nodes rows `node_offsets[i]` to `node_offsets[i + 1]` of `nodes`
    (costliest first). `node_keys` are the nodes' `resource_key`s. With sharing, row
    `i` of `shared` holds cluster `i`'s SHARED_PARTS (nulls: no `shared` field, a
    cluster without allocation rows to share).
    """

    positions: np.ndarray
    breakdown: pa.Table
    nodes: pa.Table
    node_keys: np.ndarray
    node_offsets: np.ndarray
    # Row `i`: cluster `i`'s RECONCILED_COLUMNS, in `metric`; None: no such field (the
    # clusters costed from their allocation rows).
    reconciled: pa.Table | None = None
    metric: str = ""
    shared: pa.Table | None = None

    @classmethod
    def grouped(
        cls,
        positions: Sequence[int],
        breakdown: pa.Table,
        cluster_of: np.ndarray,
        nodes: pa.Table,
        node_keys: np.ndarray,
        reconciled: pa.Table | None = None,
        metric: str = "",
    ) -> Clusters:
        """Nodes `nodes[j]` go to cluster `cluster_of[j]` (none when negative), order kept."""
        kept = np.flatnonzero(cluster_of >= 0)
        order = kept[np.argsort(cluster_of[kept], kind="stable")]
        offsets = np.searchsorted(cluster_of[order], np.arange(len(positions) + 1))
        return cls(
            np.asarray(positions, np.int64),
            breakdown,
            nodes.take(order),
            node_keys[order],
            offsets.astype(np.int64),
            reconciled,
            metric,
        )

    @classmethod
    def from_lists(
        cls,
        positions: Sequence[int],
        breakdowns: Sequence[dict[str, float]],
        billed_nodes: Sequence[Sequence[tuple[str, str, float]]] = (),
        reconciled: Sequence[dict[str, float]] | None = None,
        metric: str = "",
    ) -> Clusters:
        """Clusters from Python values: a breakdown per cluster, (node, account, cost)s,
        and RECONCILED_COLUMNS per cluster (None: no `reconciliation` field)."""
        node_rows = [row for rows in billed_nodes for row in rows]
        nodes = pa.table(
            {
                name: pa.array([row[index] for row in node_rows], kind)
                for index, (name, kind) in enumerate(zip(NODE_COLUMNS, NODE_TYPES, strict=True))
            }
        )
        table = pa.table(
            {
                name: pa.array([costs[name] for costs in breakdowns], pa.float64())
                for name in COMPONENTS
            }
        )
        cluster_of = np.repeat(np.arange(len(billed_nodes)), [len(rows) for rows in billed_nodes])
        keys = resource_keys(nodes["resource_id"].to_pylist())
        reconciled_table = (
            None
            if reconciled is None
            else pa.table(
                {
                    name: pa.array([row[name] for row in reconciled], kind)
                    for name, kind in zip(RECONCILED_COLUMNS, RECONCILED_TYPES, strict=True)
                }
            )
        )
        return cls.grouped(
            positions, table, cluster_of.astype(np.int64), nodes, keys, reconciled_table, metric
        )

    @classmethod
    def none(cls) -> Clusters:
        """No cluster at all."""
        return cls.from_lists([], [])

    def take(self, rows: np.ndarray, positions: np.ndarray) -> Clusters:
        """Clusters `rows` only, in that order, now at item `positions`, their nodes kept."""
        starts = self.node_offsets[rows]
        counts = self.node_offsets[rows + 1] - starts
        offsets = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        # Node j of the kept clusters: its cluster's first node, plus its place after it.
        node_rows = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
        return Clusters(
            np.asarray(positions, np.int64),
            self.breakdown.take(rows),
            self.nodes.take(node_rows),
            self.node_keys[node_rows],
            offsets,
            None if self.reconciled is None else self.reconciled.take(rows),
            self.metric,
            None if self.shared is None else self.shared.take(rows),
        )

    def as_dicts(self, catalog: Catalog) -> dict[int, dict[str, Any]]:
        """Each cluster's `k8s_costs` and `billed_nodes` fields, by its item's position."""
        nodes = [
            {**billed_node(catalog, node_id, account_id), "cost": cost}
            for node_id, account_id, cost in zip(
                *(self.nodes[name].to_pylist() for name in NODE_COLUMNS), strict=True
            )
        ]
        offsets = self.node_offsets.tolist()
        fields = {
            int(position): {
                "k8s_costs": costs,
                "billed_nodes": nodes[offsets[index] : offsets[index + 1]],
            }
            for index, (position, costs) in enumerate(
                zip(self.positions, self.breakdown.to_pylist(), strict=True)
            )
        }
        if self.reconciled is not None:
            for position, row in zip(self.positions, self.reconciled.to_pylist(), strict=True):
                fields[int(position)]["reconciliation"] = self._reconciliation(row)
        if self.shared is not None:
            for position, parts in zip(self.positions, self.shared.to_pylist(), strict=True):
                if parts["idle"] is not None:
                    fields[int(position)]["shared"] = parts
        return fields

    def _reconciliation(self, row: dict[str, Any]) -> dict[str, Any]:
        found = {name: row[column] for column, name in RECONCILED_COLUMNS.items()}
        adjustment = found["bill_cost"] - found["list_cost"]
        return {"cost_metric": self.metric, **found, ADJUSTMENT: adjustment}

    def json_tails(self, catalog: Catalog) -> pa.LargeBinaryArray:
        """Per cluster, what follows its cost: `,"k8s_costs":{...},"billed_nodes":[...]},`."""
        pieces: list[Any] = []
        for key, name in zip(COMPONENT_KEYS, COMPONENTS, strict=True):
            pieces += [key, json_numbers(self.breakdown[name].combine_chunks())]
        pieces += [BREAKDOWN_END, self._shared_json()]
        pieces += [*self._billed_pieces(catalog, json_numbers), CLUSTER_END]
        return pc.binary_join_element_wise(*pieces, NOTHING)

    def billed_json(self, catalog: Catalog) -> pa.LargeBinaryArray:
        """Per cluster, its `,"billed_nodes":[...]` and, when it has one,
        `,"reconciliation":{...}`: the fields the bills show of a cluster
        (api/query/bills.py), laid out as its item's JSON has them but for the costs,
        written as floats (`7.0`) as the bills' dicts were."""
        return pc.binary_join_element_wise(*self._billed_pieces(catalog, json_floats), NOTHING)

    def _billed_pieces(
        self, catalog: Catalog, numbers: Callable[[pa.Array], pa.LargeBinaryArray]
    ) -> list[Any]:
        """The parts of `billed_json`, to be joined element-wise; `numbers` writes the costs."""
        prefixes, _ = EncodedItems.of(catalog).node_prefixes(
            self.nodes["resource_id"].combine_chunks(),
            self.nodes["cloud_account_id"].combine_chunks(),
            self.node_keys,
        )
        costs = self.nodes["cost"].combine_chunks()
        node_json = pc.binary_join_element_wise(prefixes, numbers(costs), NODE_END, NOTHING)
        listed = pa.LargeListArray.from_arrays(pa.array(self.node_offsets, pa.int64()), node_json)
        pieces: list[Any] = [NODES_START, pc.binary_join(listed, NODE_SEPARATOR), NODES_END]
        if self.reconciled is not None:
            values = [self.reconciled[column].combine_chunks() for column in RECONCILED_COLUMNS]
            list_cost, bill_cost = values[RECONCILED_COUNTS:]
            texts = [
                *(_counts(count) for count in values[:RECONCILED_COUNTS]),
                numbers(list_cost),
                numbers(bill_cost),
                numbers(pc.subtract(bill_cost, list_cost)),
            ]
            for key, text in zip(_reconciliation_keys(self.metric), texts, strict=True):
                pieces += [key, text]
            pieces.append(NODE_END)
        return pieces

    def _shared_json(self) -> pa.LargeBinaryArray | pa.Scalar:
        """Per cluster, `,"shared":{...}`, or nothing (no sharing, or no part for it)."""
        if self.shared is None:
            return NOTHING
        pieces: list[Any] = []
        for key, name in zip(SHARED_KEYS, SHARED_PARTS, strict=True):
            pieces += [key, json_numbers(self.shared[name].combine_chunks())]
        pieces.append(NODE_END)
        return pc.binary_join_element_wise(*pieces, NOTHING).fill_null(NOTHING)


def from_answer(catalog: Catalog, column: dict[str, pa.Array], items: int, metric: str) -> Clusters:
    """The clusters among the first `items` rows of the costs query, their folded nodes
    and what was reconciled in `metric`.

    Only rows of kubernetes_cnr accounts (`in_k8s_account`) can be clusters; the rows
    after the items are the folded nodes, by cluster, costliest first.
    """
    k8s_rows = pc.indices_nonzero(column["in_k8s_account"].slice(0, items))
    k8s_ids = column["resource_id"].take(k8s_rows).to_pylist()
    found = [
        (row, id_)
        for row, id_ in zip(k8s_rows.to_pylist(), k8s_ids, strict=True)
        if id_ in catalog.clusters
    ]
    positions = np.array([row for row, _ in found], np.int64)
    breakdown = pa.table({name: column[name].take(positions) for name in COMPONENTS})
    reconciled = pa.table({name: column[name].take(positions) for name in RECONCILED_COLUMNS})
    cluster_ids = pa.array([id_ for _, id_ in found], pa.string())
    cluster_of = pc.index_in(column["folded_into"].slice(items), value_set=cluster_ids)
    nodes = pa.table({name: column[name].slice(items) for name in NODE_COLUMNS})
    keys = column["resource_key"].slice(items).to_numpy()
    return Clusters.grouped(
        positions, breakdown, cluster_of.fill_null(-1).to_numpy(), nodes, keys, reconciled, metric
    )
