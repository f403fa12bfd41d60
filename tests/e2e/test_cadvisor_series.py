"""The usage queries on cAdvisor series as a kubelet serves them, restart included.

The label sets are the producers' (docs/exporters.md [18]-[20]): cAdvisor's `id` (the
cgroup path), `name`, `image` and, on the cpu counter, `cpu="total"`
(kubernetes/kubernetes vendor/github.com/google/cadvisor/metrics/prometheus.go); the
kubelet's `namespace`, `pod`, `container`; the scrape's `instance`, `job="kubelet"`,
`metrics_path="/metrics/cadvisor"`, `endpoint`, `service` and the relabeled `node` of
kube-prometheus-stack's kubelet ServiceMonitor. Besides the container, the kubelet
serves the pod's own cgroup (`container=""`, `image=""`) and, under dockershim, the
pause container (`container="POD"`). A restarted container gets a new cgroup, so a new
`id`: two series of one container name, one after the other. A second pod's container
is served by a standalone cAdvisor DaemonSet on a cgroup v1 node, its kubernetes labels
relabeled to the kubelet's names: its per-cpu usage is on by default (cAdvisor
docs/runtime_options.md `--disable_metrics` leaves `percpu` out), so its cpu counter is
one series per core, `cpu="cpu00"`, `"cpu01"` (prometheus.go), and no `total`, as in
cAdvisor's own sample output (google/cadvisor metrics/testdata/prometheus_metrics:
`cpu00`..`cpu03` at 2, 3, 4, 5 ns beside `id`, `image`, `name`; the worker's cores use
0.2, 0.3, 0.4, 0.5 of a core, those proportions). The
samples are written here (constant rates and working sets); the expected figures are
computed from them by Prometheus' documented rules (tests/truth_usage.py `_increase`),
not by the pipeline.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from devtools.localprom import PrometheusServer, backfill
from etl.metroculus.derive import working_set_average
from etl.metroculus.extract import run_query
from etl.metroculus.promql import PromQLClient
from etl.metroculus.queries import QUERIES
from etl.metroculus.usage import USAGE_QUERIES
from tests.truth import day_bounds
from tests.truth_usage import _increase

pytestmark = pytest.mark.e2e

DAY = date(2026, 6, 2)
TENANT = "cadvisor-tenant"
STEP = 60
MIB = 1 << 20
UID = "7f0c2b1e-3d4a-4c55-9e2f-0a1b2c3d4e5f"
SCRAPE = {
    "tenant_id": TENANT,
    "instance": "10.0.1.17:10250",
    "job": "kubelet",
    "metrics_path": "/metrics/cadvisor",
    "endpoint": "https-metrics",
    "service": "kube-prometheus-stack-kubelet",
    "node": "ip-10-0-1-17.ec2.internal",
}
POD = {"namespace": "shop", "pod": "api-6d8f9c7b5-x2kqz"}
CGROUP = (
    f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID.replace('-', '_')}.slice"
)
START, END = day_bounds(DAY)
NOON = START + 43200


def _series(container: str, cid: str, image: str, cores: float, memory: float, lo: int, hi: int):
    labels = {**SCRAPE, **POD, "container": container, "image": image}
    labels["id"] = f"{CGROUP}/cri-containerd-{cid}.scope" if cid else CGROUP
    labels["name"] = cid
    return labels, cores, memory, lo, hi


# (labels, cores, working set, from, to): the restarted `api` container's two lives, the
# pod's own cgroup (all of its containers: more than the container) and the pause one.
SERIES = [
    _series("api", "3f1a9c", "ghcr.io/acme/api:1.4.2", 0.5, 300 * MIB, START - 3600, NOON),
    _series("api", "8b2d7e", "ghcr.io/acme/api:1.4.2", 0.25, 200 * MIB, NOON, END + 3600),
    _series("", "", "", 0.8, 900 * MIB, START - 3600, END + 3600),
    _series("POD", "c0ffee", "registry.k8s.io/pause:3.9", 0.001, 1 * MIB, START - 3600, END + 3600),
]
# (labels, cores per cpu label, working set): the standalone cAdvisor's container, all day.
WORKER = ("shop", "batch-7c9d4-q8w2n", "worker")
PER_CPU = (
    {
        **SCRAPE,
        "job": "cadvisor",
        "metrics_path": "/metrics",
        "instance": "10.0.1.17:8080",
        "namespace": WORKER[0],
        "pod": WORKER[1],
        "container": WORKER[2],
        "image": "ghcr.io/acme/worker:2.0.1",
        "id": f"/kubepods/burstable/pod{UID}/5e6f7a8b9c0d",
        "name": "k8s_worker_batch-7c9d4-q8w2n_shop_0",
    },
    {"cpu00": 0.2, "cpu01": 0.3, "cpu02": 0.4, "cpu03": 0.5},
    400 * MIB,
)


def _labels(labels: dict[str, str], **more: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in {**labels, **more}.items())


@pytest.fixture(scope="module")
def kubelet_prometheus(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("cadvisor")
    lines = ["# TYPE container_cpu_usage_seconds_total counter"]
    for labels, cores, _, lo, hi in SERIES:
        head = f"container_cpu_usage_seconds_total{{{_labels(labels, cpu='total')}}}"
        lines += [f"{head} {cores * (t - lo)} {t}" for t in range(lo, hi, STEP)]
    worker, cores_per_cpu, worker_memory = PER_CPU
    for cpu, cores in cores_per_cpu.items():
        head = f"container_cpu_usage_seconds_total{{{_labels(worker, cpu=cpu)}}}"
        lines += [f"{head} {cores * (t - START)} {t}" for t in range(START, END + 3600, STEP)]
    lines.append("# TYPE container_memory_working_set_bytes gauge")
    whole_day = (worker, 0.0, worker_memory, START, END + 3600)
    for labels, _, memory, lo, hi in [*SERIES, whole_day]:
        head = f"container_memory_working_set_bytes{{{_labels(labels)}}}"
        lines += [f"{head} {memory} {t}" for t in range(lo, hi, STEP)]
    (root / "metrics.om").write_text("\n".join([*lines, "# EOF", ""]))
    backfill(root / "metrics.om", root / "tsdb")
    with PrometheusServer(root / "tsdb") as server:
        yield server.url


def usage(url: str) -> dict[str, dict[tuple, float]]:
    """Each usage query's answer and the average the transform makes of two of them:
    (namespace, pod, container) -> value."""
    client = PromQLClient(url)
    names = {name for name, *_ in USAGE_QUERIES}
    queries = [query for query in QUERIES if query.name in names]
    raw = {query.name: run_query(client, query, TENANT, DAY, STEP) for query in queries}
    found = {
        query.name: {
            tuple(s.labels.get(k, "") for k in query.labels): s.value for s in raw[query.name]
        }
        for query in queries
    }
    average = {tuple(row[:-1]): row[-1] for row in working_set_average(raw)}
    return {**found, "container_memory_working_set_avg": average}


def test_a_restarted_container_is_one_container_and_the_pod_cgroup_is_left_out(
    kubelet_prometheus,
):
    answers = usage(kubelet_prometheus)
    api = ("shop", "api-6d8f9c7b5-x2kqz", "api")
    # Only the containers: not the pod's cgroup (container="") nor the pause container.
    assert all(set(rows) == {api, WORKER} for rows in answers.values()), answers
    lives = [(cores, memory, lo, hi) for labels, cores, memory, lo, hi in SERIES[:2]]
    used = 0.0
    for cores, _, lo, hi in lives:
        ticks = [t for t in range(lo, hi, STEP) if START <= t <= END]
        used += _increase(ticks, [cores * (t - lo) for t in ticks], START - 0.001, END)
    assert answers["container_cpu_used_seconds"][api] == pytest.approx(used, rel=1e-9)
    # The busier life's rate is both quantiles: the largest of the two series'.
    assert answers["container_cpu_usage_p95"][api] == pytest.approx(0.5, rel=1e-9)
    assert answers["container_cpu_usage_max"][api] == pytest.approx(0.5, rel=1e-9)
    # The day's working set: 720 samples of 300 MiB, then 720 of 200 MiB.
    samples = [(memory, t) for _, memory, lo, hi in lives for t in range(lo, hi, STEP)]
    day_samples = [memory for memory, t in samples if START <= t < END]
    assert answers["container_usage_samples"][api] == len(day_samples) == 1440
    average = sum(day_samples) / len(day_samples)
    assert answers["container_memory_working_set_avg"][api] == pytest.approx(average, rel=1e-12)
    assert answers["container_memory_working_set_max"][api] == 300 * MIB
    assert answers["container_memory_working_set_p95"][api] == 300 * MIB


def test_a_per_cpu_counter_is_summed_over_its_cores(kubelet_prometheus):
    answers = usage(kubelet_prometheus)
    _, cores_per_cpu, memory = PER_CPU
    ticks = list(range(START, END + 1, STEP))
    used = sum(
        _increase(ticks, [cores * (t - START) for t in ticks], START - 0.001, END)
        for cores in cores_per_cpu.values()
    )
    assert answers["container_cpu_used_seconds"][WORKER] == pytest.approx(used, rel=1e-9)
    # Constant rates: every step's usage is the cores' sum, so are its p95 and maximum.
    cores = sum(cores_per_cpu.values())
    assert answers["container_cpu_usage_p95"][WORKER] == pytest.approx(cores, rel=1e-9)
    assert answers["container_cpu_usage_max"][WORKER] == pytest.approx(cores, rel=1e-9)
    assert answers["container_memory_working_set_avg"][WORKER] == pytest.approx(memory)
    assert answers["container_usage_samples"][WORKER] == 1440
