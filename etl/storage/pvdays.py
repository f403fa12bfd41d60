"""The `k8s_pv_days` table (sql/schema/011): its restatement.

Which PV was which cloud disk each day, and which allocation rows carry which part of
its cost, written at every load of a cluster-day beside the node-days
(etl/worker/pipeline.py). The bill reads it through the view pv_bill_factors
(sql/schema/013; docs/api.md, "Reconciliation: nodes priced from the bill").
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from clickhouse_connect.driver.client import Client

from etl.storage.nodedays import restate_keyed


def restate(client: Client, cloud_account_id: str, day: date, volumes: pd.DataFrame) -> int:
    """Make the cluster-day's PV-days exactly `volumes` (etl/costmodel/pvdays.py's
    PV_DAY_COLUMNS); returns rows inserted."""
    rows = volumes.rename(columns={"persistentvolume": "resource_id"})
    return restate_keyed(client, "k8s_pv_days", cloud_account_id, day, rows)
