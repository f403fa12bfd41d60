"""The `k8s_node_days` table (sql/schema/008): its restatement.

Which node was which VM each day, at what list price, is written at every load of a
cluster-day (etl/worker/pipeline.py), for the reconciliation to the bill (docs/api.md,
"Reconciliation").
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.storage import warehouse
from etl.storage.nodes import instance_key


def restate(client: Client, cloud_account_id: str, day: date, nodes: pd.DataFrame) -> int:
    """Make the cluster-day's node-days exactly `nodes` (etl/costmodel/nodedays.py's
    NODE_DAY_COLUMNS); returns rows inserted. The instance key the bill is matched on
    is derived here, by the one matching rule (etl/storage/nodes.py)."""
    rows = nodes.rename(columns={"node": "resource_id"})
    rows.insert(2, "instance_key", [instance_key(pid) for pid in rows["provider_id"]])
    return warehouse.restate_day(client, "k8s_node_days", cloud_account_id, day, rows)
