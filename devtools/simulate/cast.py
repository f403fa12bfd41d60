"""The default cast of a simulated cluster: its nodes, workloads, volumes and load
balancers, drawn from the cluster builder's seeded stream (`b`, scenario._ClusterBuilder).

Apart from the builder so that each stays readable; the cast is the same whatever
the pitfalls (they draw after it).
"""

from __future__ import annotations

from typing import Any

from devtools.simulate.usage import USAGE_PROFILE

MIB = 2**20
ORGANIZATION_ID = "sim-org"
MANAGEMENT_FEE_PER_HOUR = 0.10
NETWORK_PRICES = {"zone": 0.01, "region": 0.02, "internet": 0.09}
# The account's cost model (config.cost_model): what a node without a price costs.
COST_MODEL = {"cpu_hourly_cost": 0.028, "memory_hourly_cost": 0.0038, "gpu_hourly_cost": 0.6}


def default_cast(b: Any, node_slots: int, pod_count: int) -> dict[str, Any]:
    """The default cast, the same whatever the pitfalls (they draw after it)."""
    clock, rng = b.clock, b.rng
    arm = b.node("arm", clock.before, clock.after)
    spot = b.node("spot", clock.before, clock.after, price_change=clock.at(0.55))
    old_end = clock.at(rng.uniform(0.3, 0.4))
    old = b.node("general", clock.before, old_end)
    new = b.node("general", old_end - clock.align(600), clock.after)
    gpu = b.node("gpu", clock.before, clock.after)
    extras = [b.node("general", clock.before, clock.after) for _ in range(node_slots - 4)]
    for node in b.nodes:
        b.pod(
            "kube-system",
            "DaemonSet",
            "kube-proxy",
            node,
            node["start"],
            node["end"],
            [container("kube-proxy", 0.1, 0.02, 64, 48)],
            {"k8s-app": "kube-proxy"},
        )

    postgres = b.pod(
        "data",
        "StatefulSet",
        "postgres",
        arm,
        clock.before,
        clock.after,
        [
            container("postgres", 1.0, 0.6, 2048, 1536),
            container("exporter", 0.05, 0.01, 64, 32),
        ],
        {"app": "postgres"},
    )
    web_rs = b.replicaset("web", "web")
    web_evicted_end = old_end - clock.align(300)
    web = [
        web_pod(b, web_rs, node, start, end)
        for node, start, end in [
            (arm, clock.before, clock.after),
            (spot, clock.before, clock.after),
            (old, clock.before, web_evicted_end),
            (new, web_evicted_end + clock.step, clock.after),
        ]
    ]
    api_rs = b.replicaset("api", "api")
    scale_up = clock.at(rng.uniform(0.76, 0.8))
    api = [
        api_pod(b, api_rs, node, start, end)
        for node, start, end in [
            (spot, clock.before, clock.after),
            (arm, clock.before, clock.after),
            (spot, scale_up, clock.at(rng.uniform(0.88, 0.92))),
            (new, scale_up + clock.align(420), clock.after),
        ]
    ]
    job_start = clock.at(rng.uniform(0.1, 0.14))
    job_end = job_start + clock.align(5400)
    job = b.pod(
        "batch",
        "Job",
        f"report-{job_start // 60}",
        spot,
        job_start,
        job_end,
        [container("report", 1.0, 0.9, 1024, 800)],
        {"app": "report"},
    )
    b.pod(
        "ml",
        "Deployment",
        "trainer",
        gpu,
        clock.before,
        clock.after,
        # Its node's kubelet is not scraped for cAdvisor: efficiency unknown, never 0.
        [container("trainer", 2.0, 1.7, 8192, 6144, gpu=1) | {"usage_series": False}],
        {"app": "trainer"},
        replicaset=b.replicaset("ml", "trainer"),
    )
    worker_rs = b.replicaset("workers", "queue-worker")
    worker_nodes = [arm, spot, gpu, *extras]
    for n in range(pod_count - len(b.pods)):
        start = clock.before if n % 2 else clock.at(rng.uniform(0.05, 0.95))
        b.pod(
            "workers",
            "Deployment",
            "queue-worker",
            worker_nodes[n % len(worker_nodes)],
            start,
            clock.after,
            [container("worker", 0.25, rng.uniform(0.1, 0.5), 256, rng.randrange(200, 400))],
            {"app": "queue-worker", "team": "platform"},
            replicaset=worker_rs,
        )

    return {
        "tenant_id": b.tenant_id,
        "name": b.name,
        "organization_id": ORGANIZATION_ID,
        "info": {
            "id": b.name,
            "name": b.name,
            "provider": b.provider,
            "provisioner": b.profile["provisioner"],
            "region": b.profile["region"],
        },
        "start": clock.before,
        "end": clock.after,
        "management_fee_per_hour": MANAGEMENT_FEE_PER_HOUR,
        "network_prices": dict(NETWORK_PRICES),
        "cost_model": dict(COST_MODEL),
        "usage_profile": dict(USAGE_PROFILE),
        "emitters": [],
        "replicas": [],
        "gaps": [],
        "network_resets": [],
        "namespaces": [
            {"name": ns, "labels": {"team": team}, "start": clock.before, "end": clock.after}
            for ns, team in [
                ("kube-system", "platform"),
                ("data", "data"),
                ("web", "shop"),
                ("api", "shop"),
                ("batch", "data"),
                ("ml", "research"),
                ("workers", "platform"),
            ]
        ],
        "nodes": b.nodes,
        "replicasets": b.replicasets,
        "pods": b.pods,
        "pvs": [
            b.pv("data", "data-postgres-0", 20, clock.before, clock.after, [postgres]),
            b.pv("web", "assets", 5, clock.before, clock.after, web),
            b.pv("data", "backup-2025", 50, clock.before, clock.at(rng.uniform(0.75, 0.85)), []),
            b.pv("batch", "report-scratch", 10, job_start, job_end + clock.align(1800), [job]),
        ],
        "load_balancers": [
            b.load_balancer("web", "web-lb", 0.025, clock.before, web),
            b.load_balancer("api", "api-lb", 0.0225, clock.at(rng.uniform(0.4, 0.5)), api),
        ],
    }


def web_pod(b: Any, rs: dict[str, Any], node: dict[str, Any], start: int, end: int) -> dict:
    containers = [
        container("nginx", 0.25, 0.4, 128, 96),
        container("app", 0.5, 0.3, 512, 700),
    ]
    return b.pod(
        "web",
        "Deployment",
        "web",
        node,
        start,
        end,
        containers,
        {"app": "web", "team": "shop"},
        replicaset=rs,
    )


def api_pod(b: Any, rs: dict[str, Any], node: dict[str, Any], start: int, end: int) -> dict:
    containers = [container("api", 0.5, 0.45, 1024, 900)]
    return b.pod(
        "api",
        "Deployment",
        "api",
        node,
        start,
        end,
        containers,
        {"app": "api", "team": "shop"},
        replicaset=rs,
    )


def container(
    name: str,
    cpu_request: float,
    cpu_usage: float,
    ram_request_mib: int,
    ram_usage_mib: int,
    gpu: int = 0,
) -> dict[str, Any]:
    return {
        "name": name,
        "cpu_request": cpu_request,
        "cpu_usage": round(cpu_usage, 3),
        "ram_request_bytes": ram_request_mib * MIB,
        "ram_usage_bytes": ram_usage_mib * MIB,
        "gpu": gpu,
    }
