"""The seven components of a K8s cost, in column order: the one list, for Python and SQL.

The cost model computes them, the storage layer's SQL templates write them out
(etl/storage/sqlfiles.py: `components` in sql/), the API serves them.
"""

from __future__ import annotations

COMPONENTS = (
    "cpu_cost",
    "ram_cost",
    "gpu_cost",
    "pv_cost",
    "load_balancer_cost",
    "network_cost",
    "management_cost",
)
