"""The labels that name each entity, shared by the query set and the answer contract.

Apart from both, so that the PromQL side (etl/metroculus/queries.py groups by these
labels) and the answer contract (etl/core/answers.py, what the cost model reads) agree
on one list without either importing the other.
"""

from __future__ import annotations

NODE = ("node",)
PV = ("persistentvolume",)
LOAD_BALANCER = ("namespace", "service_name")
# A container is named by (namespace, pod, container); `uid` tells apart two pods of one
# name within a day, but only where the exporter sends it (docs/exporters.md): OpenCost's
# container_*_allocation series carry no uid, so an absent label is an empty column.
CONTAINER = ("namespace", "pod", "container", "uid")
ALLOCATION_SERIES = (*CONTAINER, "node")
POD = ("namespace", "pod", "uid")
CLAIM = ("namespace", "pod", "persistentvolume")
NETWORK_CLASS_LABELS = ("internet", "same_zone", "same_region")
POD_EGRESS = ("namespace", "pod_name", *NETWORK_CLASS_LABELS, "service")
CHANGE = ("price", "at")
# cAdvisor's series carry no node and no pod uid (docs/exporters.md).
USAGE_CONTAINER = ("namespace", "pod", "container")
