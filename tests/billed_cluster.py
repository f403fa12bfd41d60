"""A simulated cluster whose node VMs a FOCUS bill prices, for the reconciliation's tests.

The nodes are tests/allocation_cluster.py's, loaded through the pipeline's own load
(etl/worker/pipeline.py) so that the node-days, the allocation and the cluster's
expense row are what production writes; each node's provider id names the VM
`i-0sim000000000000<n>` the commitments fixture bills (tests/fixtures/focus/).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

from etl.core.config import Settings
from etl.storage import registry
from etl.worker.pipeline import transform_and_load
from tests.allocation_cluster import MODEL, STEP, Cluster
from tests.schema import with_schema

TENANT = "tenant-sim"
CONFIG = {"scrape_interval_seconds": STEP, "cost_model": dict(MODEL)}
# A node: (cores, GiB, $/core-h, $/GiB-h, the number of its billed VM or None).
Node = tuple[int, int, float | str, float | str, int | None]
# A pod: (uid, node, hours from midnight, cores, GiB, namespace).
Pod = tuple[str, str, int, int, int, str]


def make_settings(root: Path, organization: str) -> Settings:
    """A data directory with the schema and the organization's simulated cluster."""
    settings = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(root)}))
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.add_account(db, organization, "sim-cluster", TENANT, CONFIG)
    return settings


def load_day(settings: Settings, day: date, nodes: Mapping[str, Node], pods: Iterable[Pod]) -> None:
    """Load (or rerun) one day of the cluster: every node alive all day at its prices."""
    built = Cluster(day)
    for node, (cores, gib, core_price, gib_price, vm) in nodes.items():
        built.node(node, 24, cores, gib, {"cpu": float(core_price), "ram": float(gib_price)})
        provider_id = f"aws:///us-east-1a/i-0sim000000000000{vm}" if vm else "aws:///x/i-0nobill"
        built.add("node_provider_ids", 1.0, node=node, provider_id=provider_id, region="")
    for uid, node, hours, cores, gib, namespace in pods:
        built.pod(uid, node, 0, hours, cores=cores, ram_gib=gib, namespace=namespace)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.ClusterAccount.from_document(registry.account_document(db, TENANT))
    transform_and_load(settings, db, account, day, built.answers())
