"""The instance type of each node of a tenant over some days: what names an alert's node
causes ("+$41.20: 3 new c5.4xlarge nodes"). One instant query, apart from the tenant-day
query set (queries.py), because only the alerts read it, once per evaluated tenant-day.

The cost model's node price series carry `instance_type` in every supported exporter
shape (docs/exporters.md); a node without it is simply not named by type.
"""

from __future__ import annotations

from datetime import date, timedelta

from etl.core.days import day_end
from etl.metroculus.promql import PromQLClient
from etl.metroculus.queries import tenant_selector


def node_instance_types(
    client: PromQLClient, tenant: str, first_day: date, last_day: date
) -> dict[str, str]:
    """node -> instance type of the nodes priced over [first_day, last_day]."""
    days = (last_day - first_day).days + 1
    query = (
        f"max by (node, instance_type) "
        f"(last_over_time(node_cpu_hourly_cost{tenant_selector(tenant)}[{days}d]))"
    )
    at = day_end(last_day) - timedelta(milliseconds=1)
    return {
        sample.labels["node"]: sample.labels["instance_type"]
        for sample in client.instant(query, at, tenant)
        if sample.labels.get("node") and sample.labels.get("instance_type")
    }
