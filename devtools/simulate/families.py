"""The series of each metric family a simulated cluster has, with every label any
exporter shape may keep (openmetrics.py renders them in one shape).

Each `FAMILIES` entry is (family, OpenMetrics type, the cluster's series in it), in the
order they are written: OpenCost's cost model and network costs, the `kube_*`
families, then cAdvisor's (one module per producer).
"""

from __future__ import annotations

from devtools.simulate.cadvisor_series import CADVISOR_FAMILIES
from devtools.simulate.costmodel_series import COST_MODEL_FAMILIES
from devtools.simulate.kube_series import KUBE_FAMILIES
from devtools.simulate.series import SeriesOf

FAMILIES: list[tuple[str, str, SeriesOf]] = [
    *COST_MODEL_FAMILIES,
    *KUBE_FAMILIES,
    *CADVISOR_FAMILIES,
]
