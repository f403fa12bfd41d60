"""Alert fixtures: a simulated scenario with an injected jump, its allocation loaded into
ClickHouse through the storage layer (etl/storage/warehouse.py) from tests/truth.py.

The pipeline is not what these tests are about (tests/e2e covers it), so the rows are
the analytic truth of the scenario, written as `k8s_allocation` rows; the expected
causes are computed from the same truth rows here, in plain Python, never by the code
under test.
"""

from __future__ import annotations

import copy
import shutil
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd

from devtools.simulate.scenario import build_scenario
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from tests.truth import day_bounds, expected_allocation

END_DAY = date(2026, 6, 6)
DAYS = 6
JUMP_NAMESPACE = "web"
NEW_TYPE = "c5.4xlarge"
NEW_NODES = 3


def scenario() -> dict[str, Any]:
    """Two small clusters over DAYS days ending END_DAY (5-minute samples)."""
    return build_scenario(2, DAYS, END_DAY, seed=11, scrape_interval_s=300, nodes=4, pods=16)


def inject_jump(base: dict[str, Any], day: date) -> dict[str, Any]:
    """A copy where, from `day` on, the first cluster's JUMP_NAMESPACE runs twice its
    replicas and NEW_NODES nodes of a new instance type (NEW_TYPE) join it."""
    jumped = copy.deepcopy(base)
    cluster = jumped["clusters"][0]
    lo, _ = day_bounds(day)
    for index, pod in enumerate(
        [p for p in cluster["pods"] if p["namespace"] == JUMP_NAMESPACE and p["end"] > lo]
    ):
        twin = copy.deepcopy(pod)
        twin.update(
            name=f"{pod['name']}-twin{index}",
            uid=f"{pod['uid']}-twin{index}",
            start=max(pod["start"], lo),
            egress_bytes_per_s=dict.fromkeys(pod.get("egress_bytes_per_s") or {}, 0),
        )
        cluster["pods"].append(twin)
    template = max(
        (n for n in cluster["nodes"] if not n["gpu_count"] and not n["spot"]),
        key=lambda n: n["cpu_cores"],
    )
    for index in range(NEW_NODES):
        node = copy.deepcopy(template)
        name = f"ip-10-9-0-{index + 1}.ec2.internal"
        node.update(
            name=name,
            uid=f"node-new-{index}",
            provider_id=f"aws:///new/i-new{index}",
            instance_type=NEW_TYPE,
            cpu_cores=16,
            ram_bytes=32 * 2**30,
            start=lo,
            prices={r: [[lo, pieces[0][1]]] for r, pieces in template["prices"].items()},
        )
        cluster["nodes"].append(node)
    return jumped


def table_rows(truth: list[dict[str, Any]]) -> pd.DataFrame:
    """tests/truth.py rows as `k8s_allocation` rows (names, components, cost)."""
    rows = []
    for index, row in enumerate(truth):
        kind, _, name = row["controller"].rpartition("/")
        rows.append(
            {
                "namespace": row["namespace"],
                "controller_kind": kind,
                "controller": name,
                "pod": row["pod"],
                "resource_id": f"{index}:{row['pod']}:{row['node']}",
                "pod_uid": row["pod"] if kind else "",
                "node": row["node"],
                "labels": {},
                "namespace_labels": {},
                "services": row["services"],
                "price_flag": "",
                "running_hours": 0.0,
                "cpu_core_hours": 0.0,
                "ram_gib_hours": 0.0,
                "gpu_hours": 0.0,
                **{column: row[column] for column in COMPONENTS},
                "cost": sum(row[column] for column in COMPONENTS),
            }
        )
    return pd.DataFrame(rows)


def days() -> list[date]:
    return [END_DAY - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]


def load(client: Any, world: dict[str, Any], only: list[date] | None = None) -> None:
    """Restate every (or the given) cluster-day of `world` in `k8s_allocation`."""
    for cluster in world["clusters"]:
        for day in only or days():
            rows = table_rows(expected_allocation(world, cluster["tenant_id"], day))
            warehouse.restate_day(client, "k8s_allocation", cluster["tenant_id"], day, rows)


def node_types(world: dict[str, Any]) -> Any:
    """What Thanos would answer for the nodes' instance types: the scenario's, which the
    simulator renders as the `instance_type` label of the node price series."""
    by_tenant = {
        cluster["tenant_id"]: {node["name"]: node["instance_type"] for node in cluster["nodes"]}
        for cluster in world["clusters"]
    }
    return lambda tenant, first, last: by_tenant[tenant]


def no_node_types(tenant: str, first: date, last: date) -> dict[str, str]:
    """No instance type known (tests that are not about them ask no Thanos)."""
    return {}


def register(db: Any, world: dict[str, Any]) -> None:
    for cluster in world["clusters"]:
        registry.add_account(db, cluster["organization_id"], cluster["name"], cluster["tenant_id"])


def stores_template(root: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A data directory holding the jumped world, its clusters registered: (dir, base,
    jumped). Built once per module; each test gets its own MongoDB (`fresh_settings`)."""
    base = scenario()
    jumped = inject_jump(base, END_DAY)
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(root)})
    register(registry.open_database(settings.mongo_uri, settings.mongo_db), base)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        load(client, base, days()[:-1])
        load(client, jumped, [END_DAY])
    return root, base, jumped


def fresh_settings(template: Any, target: Any) -> Settings:
    """Settings over a copy of the template's MongoDB and the template's ClickHouse itself
    (a chdb directory cannot be copied; a test that restates a day restores it)."""
    shutil.copytree(template / "mongo", target / "mongo")
    return Settings.from_env(
        {"K8SCOST_DATA_DIR": str(target), "CLICKHOUSE_DSN": f"chdb://{template / 'clickhouse'}"}
    )


class Receiver:
    """A webhook receiver on loopback recording every request; `start` brings it up.

    A slow one (`delay_s`) answers each request that long after reading it, on its own
    thread, as a receiver busy elsewhere does."""

    def __init__(self, port: int, delay_s: float = 0.0) -> None:
        self.port, self.requests, self.server = port, [], None
        self.delay_s = delay_s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        received, delay_s = self.requests, self.delay_s

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(delay_s)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
