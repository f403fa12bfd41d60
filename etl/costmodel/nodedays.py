"""The node-days of a cluster-day: what the reconciliation to the bill needs of each node.

The allocation prices a node at the exporter's list price. To price it as the bill
does (docs/api.md, "Reconciliation"), a reader needs, per node and day, which VM it
was (its provider id), its list cpu, ram and gpu cost (the asset view: the figure
the allocation's rows on the node add up to, etl/costmodel/allocation/reconcile.py),
and how to split a bill over cpu, ram and gpu when the list price is 0 (on-prem
exporters, custom pricing off): by what the account's cost model would charge for
the node's capacity-hours (`model_shares`). They are stored at load
(sql/schema/008_k8s_node_days.sql) because neither the bill nor the cluster's
resource document keeps which node was which VM on which day.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from etl.costmodel.assets import CAPACITY, GIB, MODEL_KEYS, RESOURCES

NODE_DAY_COLUMNS = [
    "node",
    "provider_id",
    *(f"{r}_list_usd" for r in RESOURCES),
    "hours",
    *(f"{r}_model_share" for r in RESOURCES),
]


def model_shares(nodes: pd.DataFrame, model: Mapping[str, float]) -> pd.DataFrame:
    """Per node, the shares of cpu, ram and gpu in what the cost model charges for its
    capacity (they sum to 1). A node of no capacity at all puts its whole share on cpu,
    so that a bill matched to it is never dropped."""
    weights = pd.DataFrame(
        {
            r: nodes[CAPACITY[r]] * (1 / GIB if r == "ram" else 1.0) * model[MODEL_KEYS[r]]
            for r in RESOURCES
        }
    )
    total = weights.sum(axis=1)
    shares = weights.div(total.where(total > 0), axis=0).fillna(0.0)
    shares.loc[total <= 0, "cpu"] = 1.0
    return shares.rename(columns={r: f"{r}_model_share" for r in RESOURCES})


def provider_ids(named_ids: pd.DataFrame, entity: str = "node") -> tuple[dict[str, str], list[str]]:
    """Each `entity`'s (a node's, a PV's: the frame's name column) one provider id of the
    day, and issues for those with several.

    A name seen with two VMs (or disks) in a day (replaced under the same name) cannot
    be told apart by its list cost, which is the name's: it gets no provider id, so no
    bill is matched to it and it stays at list price (flagged, never a guess).
    """
    found: dict[str, set[str]] = {}
    for name, provider_id in zip(named_ids[entity], named_ids["provider_id"], strict=True):
        if provider_id:
            found.setdefault(name, set()).add(provider_id)
    kind = "VMs" if entity == "node" else "disks"
    issues = [
        f"{entity} {name} was {len(ids)} {kind} ({', '.join(sorted(ids))}): "
        "not matched to a bill, kept at list price"
        for name, ids in sorted(found.items())
        if len(ids) > 1
    ]
    return {name: ids.pop() for name, ids in found.items() if len(ids) == 1}, issues


def node_days(
    nodes: pd.DataFrame,
    node_provider_ids: pd.DataFrame,
    sample_hours: float,
    model: Mapping[str, float],
) -> tuple[pd.DataFrame, list[str]]:
    """The asset view's nodes (`DayCosts.nodes`) as node-day rows (NODE_DAY_COLUMNS),
    with the issues of ambiguous provider ids. `sample_hours` is one step's hours."""
    ids, issues = provider_ids(node_provider_ids)
    rows = nodes[["node"]].assign(**{f"{r}_list_usd": nodes[f"{r}_cost"] for r in RESOURCES})
    rows.insert(1, "provider_id", [ids.get(node, "") for node in nodes["node"]])
    rows["hours"] = nodes["life_steps"] * sample_hours
    rows = pd.concat([rows, model_shares(nodes, model)], axis=1)
    return rows[NODE_DAY_COLUMNS].reset_index(drop=True), issues
