"""The `cost_metric` parameter, declared once for every answer in a cost metric.

Which FOCUS cost an answer sums (etl/core/metrics.py): `billed`, `effective` or
`list`. Not given: the organization's default (etl/storage/pricing.py, `k8scost
pricing metric`), itself `billed` unless set, so an organization that chose
nothing gets the answers it always had.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask.fields import Field, String
from apiflask.validators import OneOf

from api.catalog.catalog import Catalog
from etl.core.metrics import METRICS
from etl.storage.nodedays import bill_arguments
from etl.storage.nodes import node_vm_keys
from etl.storage.pricing import default_metric

METRIC_FIELDS: dict[str, Field] = {
    "cost_metric": String(
        validate=OneOf(METRICS),
        metadata={
            "description": "The cost summed: billed (the invoice's, FOCUS BilledCost), effective "
            "(amortized: EffectiveCost) or list (ListCost); default the organization's "
            "(`k8scost pricing metric`), else billed",
            "enum": list(METRICS),
        },
    )
}


def request_metric(database: Any, organization_id: str, query: Mapping[str, Any]) -> str:
    """The metric of a validated query: its `cost_metric`, else the organization's."""
    return query.get("cost_metric") or default_metric(database, organization_id)


def reconciliation(catalog: Catalog, metric: str) -> dict[str, Any]:
    """The bill arguments of the allocation's readers in `metric` (the view
    k8s_allocation_reconciled, sql/schema/010: nodes priced from the bill): the
    organization's bill resources folded into its clusters (node VMs and disks) and
    their instance keys, kept with its catalog; the expense side's too
    (api/query/scope.py), so both sides reconcile the same bill resources."""
    keys = catalog.derived(
        "folded bill keys", lambda: node_vm_keys(catalog.node_clusters, catalog.resources)
    )
    return bill_arguments(keys, metric)
