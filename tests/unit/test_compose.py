"""The production stack, checked offline: no Docker engine runs here or in CI.

`docker-compose config` (Debian's docker-compose, installed by scripts/setup.sh) parses
docker-compose.yaml against the Compose schema, resolves anchors and variables, and
merges the override; the tests then read the resolved stack: pinned images, health
checks and start order, the connections the code reads, files only from this repo,
and the services the README names. The files under deploy/ are parsed by their own
tools where one exists here (promtool for the Prometheus config).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from click.testing import CliRunner

from etl.core.config import Settings
from etl.metroculus.promql import TENANT_HEADER
from etl.metroculus.queries import tenant_selector
from k8scost.cli import cli

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / "deploy" / "env.example"
CLUSTER_OVERRIDE = REPO / "deploy" / "compose.clickhouse-cluster.yaml"
ONE_SHOT = {"minio-init", "k8scost-init", "airflow-init", "simulator-register"}
# The images built from this repository's Dockerfile, by build target: the project
# without Airflow (API, proxy, init, simulator) and the Airflow image with its extra.
PROJECT_IMAGES = {"k8scost": "k8scost:0.1.0", "airflow": "k8scost-airflow:0.1.0"}
AIRFLOW_COMMANDS = ("api-server", "scheduler", "dag-processor", "triggerer")
K8SCOST_ENTRYPOINT = ["/usr/bin/dumb-init", "--", "k8scost"]
PINNED = re.compile(r"^[\w./-]+:(v?\d+(\.\d+)+|RELEASE\.[\dT-]+Z)$")


def _docker_compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    executable = shutil.which("docker-compose")
    assert executable, "docker-compose is missing: scripts/setup.sh installs Debian's package"
    return subprocess.run(
        [executable, "--project-directory", str(REPO), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def _resolved(*override: Path) -> dict:
    files = [arg for path in (REPO / "docker-compose.yaml", *override) for arg in ("-f", path)]
    result = _docker_compose(*map(str, files), "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def stack() -> dict:
    return _resolved()


@pytest.fixture(scope="module")
def cluster_stack() -> dict:
    return _resolved(CLUSTER_OVERRIDE)


def test_docker_compose_validates_the_stack_and_its_cluster_override():
    for files in (
        ["-f", "docker-compose.yaml"],
        ["-f", "docker-compose.yaml", "-f", str(CLUSTER_OVERRIDE)],
    ):
        result = _docker_compose(*files, "config", "-q")
        assert result.returncode == 0, result.stderr


def test_a_missing_secret_stops_the_stack_before_it_starts(tmp_path):
    env = tmp_path / "env"
    env.write_text(
        "".join(
            line + "\n"
            for line in ENV_EXAMPLE.read_text().splitlines()
            if not line.startswith("CLICKHOUSE_PASSWORD=")
        )
    )
    result = _docker_compose("config", "-q", env_file=env)
    assert result.returncode != 0
    assert "set CLICKHOUSE_PASSWORD in .env" in result.stderr


def _all_stacks(stack: dict, cluster_stack: dict) -> list[tuple[str, dict]]:
    return [("stack", stack), ("cluster override", cluster_stack)]


def test_every_image_is_official_and_pinned(stack, cluster_stack):
    for _label, resolved in _all_stacks(stack, cluster_stack):
        for name, service in resolved["services"].items():
            if "build" in service:
                assert service["image"] == PROJECT_IMAGES[service["build"]["target"]], name
                assert service["build"]["context"] == str(REPO), name
            else:
                assert PINNED.match(service["image"]), (name, service["image"])


def test_the_image_runs_the_airflow_version_the_tests_run():
    tested = importlib.metadata.version("apache-airflow")
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={tested}\n" in dockerfile
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    assert compose["x-airflow-image"]["build"]["args"]["AIRFLOW_VERSION"] == tested
    assert compose["x-airflow-image"]["build"]["target"] == "airflow"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".k8scost", ".env"} <= set(ignored)


def test_only_the_airflow_services_get_the_image_with_airflow(stack, cluster_stack):
    """The API, the proxy and the other k8scost commands install without the extra."""
    for label, resolved in _all_stacks(stack, cluster_stack):
        for name, service in resolved["services"].items():
            if "build" not in service:
                continue
            airflow = name.startswith("airflow-")
            assert service["build"]["target"] == ("airflow" if airflow else "k8scost"), (
                label,
                name,
            )
    stages = re.split(r"^FROM ", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)[1:]
    installs = {
        stage.split()[2]: re.findall(r"^RUN pip install .*$", stage, flags=re.MULTILINE)
        for stage in stages
    }
    assert installs["k8scost"] == ["RUN pip install --no-cache-dir -e /opt/k8scost"]
    by_name = {stage.split()[2]: stage for stage in stages}
    assert by_name["k8scost"].startswith("python:${PYTHON_VERSION}-slim")
    # The API serves the dashboard's chart library from the chart stage's npm install.
    assert "RUN npm ci --omit=dev" in by_name["chart"]
    assert (
        "--from=chart /chart/node_modules /opt/k8scost/api/ui/chart/node_modules"
        in (by_name["k8scost"])
    )
    (airflow_install,) = installs["airflow"]
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in airflow_install
    assert airflow_install.endswith('-e "/opt/k8scost[airflow]"')


def test_long_running_services_have_health_checks_and_start_in_order(stack, cluster_stack):
    for label, resolved in _all_stacks(stack, cluster_stack):
        services = resolved["services"]
        for name, service in services.items():
            if name not in ONE_SHOT and name != "clickhouse-keeper":
                assert "healthcheck" in service, (label, name)
            for needed, rule in service.get("depends_on", {}).items():
                assert needed in services, (label, name, needed)
                if rule["condition"] == "service_healthy":
                    assert "healthcheck" in services[needed], (label, name, needed)
                elif rule["condition"] == "service_completed_successfully":
                    assert needed in ONE_SHOT, (label, name, needed)
                else:
                    assert rule["condition"] == "service_started", (label, name, needed)


def test_nothing_outside_the_repository_is_mounted(stack, cluster_stack):
    named_volumes = set(stack["volumes"]) | set(cluster_stack["volumes"])
    for label, resolved in _all_stacks(stack, cluster_stack):
        for name, service in resolved["services"].items():
            for volume in service.get("volumes", []):
                source = volume.split(":", 1)[0]
                if source in named_volumes:
                    continue
                path = Path(source)
                assert path.is_relative_to(REPO) and path.exists(), (label, name, source)
            for env_file in service.get("env_file", []):
                assert Path(env_file).is_relative_to(REPO), (label, name, env_file)


def _host(url: str) -> str:
    return urlparse(url).hostname


def test_the_project_connections_point_at_the_stack(stack):
    services = stack["services"]
    for name in ("api", "diproxy", "airflow-scheduler", "airflow-worker", "k8scost-init"):
        settings = Settings.from_env(services[name]["environment"])
        assert _host(settings.thanos_url) == "thanos-query-frontend", name
        assert _host(settings.thanos_receive_url) == "thanos-receive", name
        assert settings.thanos_receive_url.endswith(":19291/api/v1/receive"), name
        assert settings.clickhouse_dsn.startswith("http://k8scost:"), name
        assert _host(settings.clickhouse_dsn) == "clickhouse", name
        assert (
            settings.mongo_uri.startswith("mongodb://") and "replicaSet=rs0" in settings.mongo_uri
        )
        assert _host(settings.mongo_uri) == "mongodb", name
        assert settings.raw_archive_url == "s3://k8scost-raw", name
        assert _host(services[name]["environment"]["AWS_ENDPOINT_URL"]) == "minio", name
    minio_init = " ".join(services["minio-init"]["command"])
    assert "stack/thanos stack/k8scost-raw" in minio_init
    objstore = yaml.safe_load((REPO / "deploy/thanos/objstore.yml").read_text())
    assert objstore["config"]["bucket"] == "thanos"


def test_thanos_tenancy_matches_the_proxy_and_the_queries(stack):
    services = stack["services"]
    receive = services["thanos-receive"]["command"]
    assert f"--receive.tenant-header={TENANT_HEADER}" in receive
    assert "--receive.tenant-label-name=tenant_id" in receive
    assert Settings.from_env({}).thanos_tenant_header == TENANT_HEADER
    assert tenant_selector("t") == '{tenant_id="t"}'
    query = services["thanos-query"]["command"]
    assert {"--query.enforce-tenancy", "--query.tenant-label-name=tenant_id"} <= set(query)
    assert (
        f"--query-frontend.forward-header={TENANT_HEADER}"
        in (services["thanos-query-frontend"]["command"])
    )
    (ring,) = json.loads((REPO / "deploy/thanos/hashring.json").read_text())
    assert "--receive.local-endpoint=" + ring["endpoints"][0] in receive


def test_the_services_run_the_project_commands(stack, cluster_stack):
    services = stack["services"]
    assert services["api"]["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert services["diproxy"]["command"] == ["diproxy", "--host", "0.0.0.0", "--port", "8080"]
    assert services["k8scost-init"]["command"] == ["db", "init"]
    assert cluster_stack["services"]["k8scost-init"]["command"] == [
        "db",
        "ddl",
        "--cluster",
        "k8scost",
        "--apply",
    ]
    for component in AIRFLOW_COMMANDS:
        (service,) = [s for s in services.values() if s.get("command") == [component]]
        assert service["image"] == PROJECT_IMAGES["airflow"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    agent = yaml.safe_load((REPO / "deploy/prometheus/simulator-agent.yml").read_text())
    (remote_write,) = agent["remote_write"]
    assert remote_write["url"] == "http://diproxy:8080/storage/api/v2/write"
    token_mount = "/etc/prometheus/tokens"
    assert remote_write["authorization"]["credentials_file"].startswith(token_mount)
    register = services["simulator-register"]["environment"]
    assert (
        Path(register["SIM_TOKEN_FILE"]).name
        == Path(remote_write["authorization"]["credentials_file"]).name
    )


def test_every_k8scost_command_of_the_stack_parses(stack, cluster_stack):
    runner = CliRunner()
    commands = [
        service["command"]
        for _label, resolved in _all_stacks(stack, cluster_stack)
        for service in resolved["services"].values()
        if service.get("entrypoint") == K8SCOST_ENTRYPOINT
    ]
    assert len(commands) >= 5
    for command in commands:
        # --help after the real arguments: click rejects an unknown command or option first.
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_the_simulator_prometheus_config_is_valid():
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/setup.sh installs Debian's prometheus"
    config = REPO / "deploy/prometheus/simulator-agent.yml"
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_clickhouse_configs_parse_and_name_every_cluster_node(cluster_stack):
    trees = {
        path.name: ElementTree.parse(path).getroot()
        for path in sorted((REPO / "deploy/clickhouse").rglob("*.xml"))
    }
    assert set(trees) == {"k8scost.xml", "keeper.xml", "quorum.xml", "remote-servers.xml"}
    replicas = trees["remote-servers.xml"].find("remote_servers").iter("replica")
    hosts = {replica.find("host").text for replica in replicas}
    nodes = {
        n
        for n, s in cluster_stack["services"].items()
        if "CLICKHOUSE_REPLICA" in s.get("environment", {})
    }
    assert hosts == {"clickhouse", "clickhouse-replica"} == nodes
    for node in nodes:
        assert cluster_stack["services"][node]["environment"]["CLICKHOUSE_REPLICA"] == node
    keeper = trees["remote-servers.xml"].find("zookeeper/node/host").text
    assert keeper in cluster_stack["services"]
    assert trees["k8scost.xml"].find("profiles/default/distributed_foreground_insert").text == "1"


def test_the_scripts_of_the_stack_parse():
    for script in (REPO / "deploy").rglob("*.sh"):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, (script, result.stderr)


def _readme_services() -> set[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE))


def test_every_service_the_readme_names_exists_and_none_is_left_unnamed(stack, cluster_stack):
    named = _readme_services()
    assert named, "the README's Production section lists no services"
    services = set(stack["services"]) | set(cluster_stack["services"])
    assert named == services
