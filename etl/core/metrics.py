"""The cost metrics and the `expenses` columns that hold them: the one list.

FOCUS prices every charge several ways. `billed` is what the invoice charges
(BilledCost: an upfront reservation on its purchase day, the usage it covers at
0); `effective` is the amortized cost (EffectiveCost: the purchase spread over the
usage it covers, the purchase row itself at 0); `list` is the public price without
discounts (ListCost). Each expense row holds all of them (sql/schema/007), so a
metric is a column choice in SQL. `cost` stays the billed cost: it is the
platform's contract, summed by every reader that knows no metric.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

METRIC_COLUMNS = {"billed": "cost", "effective": "effective_cost", "list": "list_cost"}
METRICS = tuple(METRIC_COLUMNS)
# Without a request's `cost_metric` nor an organization's default: today's answers.
DEFAULT_METRIC = "billed"
# The cost columns of an expense row: the metrics', then FOCUS ContractedCost (the
# negotiated price before commitments), stored for the reconciliation to come.
COST_COLUMNS = (*METRIC_COLUMNS.values(), "contracted_cost")
# The FOCUS attributes that are part of an expense row's key; '' stands for NULL.
ATTRIBUTE_COLUMNS = (
    "charge_category",
    "pricing_category",
    "commitment_discount_status",
    "commitment_discount_id",
)
# The billing period of rows no bill charged (a K8s cluster's own costs).
NO_BILLING_PERIOD = date(1970, 1, 1)


def priced_alike(rows: pd.DataFrame) -> pd.DataFrame:
    """Expense rows whose `cost` is their only price, with every metric equal to it.

    A K8s cluster's cost is the exporter's price: until nodes are priced from the
    bill (docs/api.md, "Cost metrics"), it is the cluster's billed, effective and
    list cost alike.
    """
    return rows.assign(**dict.fromkeys(COST_COLUMNS[1:], rows["cost"]))
