"""The `k8s_node_days` table (sql/schema/008): its restatement and the node-bill factors.

Which node was which VM each day, at what list price, is written at every load of a
cluster-day (etl/worker/pipeline.py). The reconciliation to the bill is one
parameterized view (sql/schema/009_node_bill_factors.sql; docs/api.md, "Reconciliation:
nodes priced from the bill") that a reader's SQL joins by name; `bill_factors` reads it
for Python: per node-day, the bill's cost of its VM under a metric and the factor
bill/list for cpu, ram and gpu, with the arguments the view takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.core.days import day_start_epoch
from etl.core.metrics import METRIC_COLUMNS
from etl.storage import sqlfiles, warehouse
from etl.storage.nodes import bill_instance_keys, instance_key


def restate(client: Client, cloud_account_id: str, day: date, nodes: pd.DataFrame) -> int:
    """Make the cluster-day's node-days exactly `nodes` (etl/costmodel/nodedays.py's
    NODE_DAY_COLUMNS); returns rows inserted. The instance key the bill is matched on
    is derived here, by the one matching rule (etl/storage/nodes.py)."""
    rows = nodes.rename(columns={"node": "resource_id"})
    rows.insert(2, "instance_key", [instance_key(pid) for pid in rows["provider_id"]])
    return warehouse.restate_day(client, "k8s_node_days", cloud_account_id, day, rows)


# Under `list` a cluster costs its exporter's price: nothing is reconciled (docs/api.md).
LIST_METRIC = "list"


def bill_arguments(bill_keys: tuple[list[str], list[str]], metric: str) -> dict[str, Any]:
    """The bill arguments of the reconciled allocation (sql/schema/010) under `metric`:
    the organization's bill resources and their instance keys (`bill_instance_keys`),
    none under `list`."""
    ids, keys = ([], []) if metric == LIST_METRIC else bill_keys
    return {
        "bill_resource_ids": ids,
        "bill_instance_keys": keys,
        "cost_column": METRIC_COLUMNS[metric],
    }


def bill_factors(
    client: Client,
    cluster_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    accounts: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Mapping[str, Any]],
    metric: str,
) -> pd.DataFrame:
    """Per node-day of the clusters over the days, the bill's cost of its VM under
    `metric` (billed, effective or list) and the factors (sql/queries/node_bill_factors.sql).

    `accounts` and `resources` are the organization's documents: its bill resources
    are matched to the nodes by instance key, as etl/storage/nodes.py folds them.
    """
    bill_ids, bill_keys = bill_instance_keys(accounts, resources)
    frame = client.query_df(
        sqlfiles.query("node_bill_factors"),
        parameters={
            "cluster_account_ids": list(cluster_account_ids),
            "first_day": day_start_epoch(first_day),
            "last_day": day_start_epoch(last_day),
            "bill_resource_ids": bill_ids,
            "bill_instance_keys": bill_keys,
            "cost_column": METRIC_COLUMNS[metric],
        },
    )
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame
