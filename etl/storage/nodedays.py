"""The `k8s_node_days` table (sql/schema/008): its restatement and the node-bill factors.

Which node was which VM each day, at what list price, is written at every load of a
cluster-day (etl/worker/pipeline.py). The reconciliation to the bill is one
parameterized view (sql/schema/009_node_bill_factors.sql; docs/api.md, "Reconciliation:
nodes priced from the bill") that a reader's SQL joins by name; `bill_factors` reads it
for Python: per node-day, the bill's cost of its VM under a metric and the factor
bill/list for cpu, ram and gpu, with the arguments the view takes. `bill_adjustments`
reads what the rule (nodes and PVs) adds to each cluster-day
(sql/schema/014_cluster_bill_adjustments.sql), the expense side's figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
from clickhouse_connect.driver.client import Client
from pymongo.database import Database

from etl.core.days import day_start_epoch
from etl.core.metrics import METRIC_COLUMNS
from etl.storage import registry, sqlfiles, warehouse
from etl.storage.clickhouse import StringArray
from etl.storage.nodes import ACCOUNT_FIELDS, RESOURCE_FIELDS, folded_bill_keys, instance_key


def restate_keyed(
    client: Client, table: str, cloud_account_id: str, day: date, rows: pd.DataFrame
) -> int:
    """Make the cluster-day of `table` (k8s_node_days, k8s_pv_days) exactly `rows`, their
    names in `resource_id`; returns rows inserted. The instance key the bill is matched
    on is derived here from the provider id, by the one matching rule
    (etl/storage/nodes.py)."""
    rows = rows.copy()
    rows.insert(2, "instance_key", [instance_key(pid) for pid in rows["provider_id"]])
    return warehouse.restate_day(client, table, cloud_account_id, day, rows)


def restate(client: Client, cloud_account_id: str, day: date, nodes: pd.DataFrame) -> int:
    """Make the cluster-day's node-days exactly `nodes` (etl/costmodel/nodedays.py's
    NODE_DAY_COLUMNS); returns rows inserted."""
    rows = nodes.rename(columns={"node": "resource_id"})
    return restate_keyed(client, "k8s_node_days", cloud_account_id, day, rows)


# Under `list` a cluster costs its exporter's price: nothing is reconciled (docs/api.md).
LIST_METRIC = "list"


def bill_arguments(bill_keys: tuple[list[str], list[str]], metric: str) -> dict[str, Any]:
    """The bill arguments of the reconciled allocation (sql/schema/010) under `metric`:
    the bill resources folded into the organization's clusters and their instance keys
    (etl/storage/nodes.py: `node_vm_keys`), none under `list`."""
    ids, keys = ([], []) if metric == LIST_METRIC else bill_keys
    # As StringArray: an organization's thousands of ids formatted once per read, not
    # value by value by clickhouse-connect and again for the rollup's key.
    return {
        "bill_resource_ids": StringArray(ids),
        "bill_instance_keys": StringArray(keys),
        "cost_column": METRIC_COLUMNS[metric],
    }


def organization_bill(database: Database, organization_id: str, metric: str) -> dict[str, Any]:
    """The bill arguments of the organization's allocation readers outside the API (the
    anomaly alerts, the budgets: etl/alerts/) under `metric`: its folded bill resources
    and their instance keys from its documents, as the API's catalog gives them."""
    if metric == LIST_METRIC:
        return bill_arguments(([], []), metric)
    accounts, resources = registry.organization_documents(
        database, organization_id, ACCOUNT_FIELDS, RESOURCE_FIELDS
    )
    return bill_arguments(folded_bill_keys(accounts, resources), metric)


def _read_rule(
    client: Client,
    name: str,
    cluster_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    bill: Mapping[str, Any],
) -> pd.DataFrame:
    """One of the rule's views through its query file `name` with the bill arguments
    `bill`, `date` as a date."""
    frame = client.query_df(
        sqlfiles.query(name),
        parameters={
            "cluster_account_ids": list(cluster_account_ids),
            "first_day": day_start_epoch(first_day),
            "last_day": day_start_epoch(last_day),
            **bill,
        },
    )
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


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

    `accounts` and `resources` are the organization's documents: the bill resources
    folded into its clusters are matched to the nodes by instance key
    (etl/storage/nodes.py), as every reader matches them.
    Under `list` the bill's list cost is read (what `k8scost pricing reconciliation`
    shows), though no answer applies it (`bill_arguments`).
    """
    ids, keys = folded_bill_keys(accounts, resources)
    bill = {"bill_resource_ids": ids, "bill_instance_keys": keys}
    return _read_rule(
        client,
        "node_bill_factors",
        cluster_account_ids,
        first_day,
        last_day,
        bill | {"cost_column": METRIC_COLUMNS[metric]},
    )


def bill_adjustments(
    client: Client,
    cluster_account_ids: Sequence[str],
    first_day: date,
    last_day: date,
    bill: Mapping[str, Any],
) -> pd.DataFrame:
    """Per (cluster account, day) with a node or PV priced from the bill, what that
    adds to its exporter cost, per component and in all, and what was reconciled
    (sql/schema/014_cluster_bill_adjustments.sql: the expense side's figure of the rule
    the allocation rows apply). `bill` is `bill_arguments`' (the API's:
    api/query/metric.py, `reconciliation`); under `list` it matches nothing."""
    return _read_rule(
        client, "cluster_bill_adjustments", cluster_account_ids, first_day, last_day, bill
    )
