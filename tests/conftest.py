"""Fixtures shared by every test tier.

`simulated_prometheus` is the PromQL engine the pipeline is tested against: a real
Prometheus serving a backfilled simulated history (2 clusters x 2 fixed past days,
about 1.5M samples; ~5 s to build once per session on 2 cores).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from montydb.storage.sqlite import SQLiteStorage

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import simulate_to_dir
from etl.core.config import Settings
from etl.storage import registry
from tests import schema

SIM_END_DAY = date(2026, 6, 2)
SIM_DAYS = 2
SIM_CLUSTERS = 2
SIM_SEED = 7
SIM_SCRAPE_INTERVAL_S = 60

# The property tests' example counts (README, Tests). `suite`, the default, is what
# `make test` draws: enough examples to cross each strategy's branches, few enough
# that the API fuzzing (every request a real query on the embedded ClickHouse) fits
# the suite's budget. `thorough` draws four times as many, for a change to the
# allocation or the API's document: `pytest --hypothesis-profile thorough FILE`.
# Derandomized: every run and machine draws the same examples.
settings.register_profile("suite", max_examples=15, deadline=None, derandomize=True, database=None)
settings.register_profile("thorough", settings.get_profile("suite"), max_examples=60)
settings.load_profile("suite")


def _file_rank(item: pytest.Item) -> int:
    """0 for a whole Airflow stack (`celery`), 1 for another test of a minute or more
    (`slow`), 2 for the rest: the longest first."""
    if item.get_closest_marker("celery"):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that take minutes first, each file's tests kept together and in order.

    `make test` hands its two processes a file at a time in collection order
    (`--dist loadfile --no-loadscope-reorder`): the long files start at once and the
    short ones fill in around them, so both processes end together, rather than a long
    file drawn last running alone. Within a rank, files of more tests first: a process
    whose file has two tests or fewer left is handed the next file at once (pytest-xdist
    runs a test only once it knows the next), so two one-test files of minutes in a row
    would both land on the first process."""
    rank: dict[str, int] = {}
    tests: dict[str, int] = {}
    for item in items:
        path = item.path.as_posix()
        rank[path] = min(rank.get(path, 2), _file_rank(item))
        tests[path] = tests.get(path, 0) + 1
    items.sort(key=lambda item: (rank[item.path.as_posix()], -tests[item.path.as_posix()]))


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--update-sql-snapshots`: rewrite tests/snapshots/sql/ (tests/unit/test_sql_snapshots.py)."""
    parser.addoption(
        "--update-sql-snapshots",
        action="store_true",
        help="rewrite tests/snapshots/sql/ from what sql/ renders to, then compare",
    )


@pytest.fixture(autouse=True, scope="session")
def montydb_without_fsync() -> Iterator[None]:
    """The MongoDB stand-in's writes in this process handed to the OS without `fsync`
    (SQLite `synchronous=OFF`) unless a client asks otherwise.

    Why: montydb opens a collection's SQLite file for every write and commits it with
    `synchronous=NORMAL`, whose fsyncs make each write wait for the disk (most of an
    API test's setup, on a disk the suite shares). Every process and thread still sees
    every committed write at once, and one that crashes loses none: only the host's
    crash could lose or corrupt what a test writes in its temporary directory.
    Processes a test starts (the CLI, the API server, Airflow) keep the default."""
    parse = SQLiteStorage.wconcern_parser

    def without_fsync(storage: SQLiteStorage, *args: Any, **kwargs: Any) -> Any:
        return parse(storage, *args, **{"synchronous": "OFF", **kwargs})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteStorage, "wconcern_parser", without_fsync)
        yield


@dataclass(frozen=True)
class SimulatedPrometheus:
    """A running Prometheus over a simulated history, and the scenario behind it."""

    url: str
    scenario: dict[str, Any]
    tenant_ids: list[str]
    days: list[date]
    scenario_path: Path


def simulated_history(
    root: Path, clusters: int, days: int, scrape_interval_s: int
) -> tuple[Path, Path, dict[str, Any]]:
    """Simulate clusters up to SIM_END_DAY into TSDB blocks: (tsdb dir, scenario path, scenario)."""
    scenario_path = simulate_to_dir(
        root / "sim",
        clusters,
        days,
        SIM_END_DAY,
        seed=SIM_SEED,
        scrape_interval_s=scrape_interval_s,
    )
    metrics = scenario_path.with_name("metrics.om")
    backfill(metrics, root / "tsdb")
    metrics.unlink()  # hundreds of MB, no longer needed once the blocks exist
    return root / "tsdb", scenario_path, json.loads(scenario_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def simulated_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedPrometheus]:
    """Prometheus serving 2 simulated clusters over 2026-06-01..02 (seed 7, 60 s scrape)."""
    root = tmp_path_factory.mktemp("simulated-prometheus")
    tsdb, scenario_path, scenario = simulated_history(
        root, SIM_CLUSTERS, SIM_DAYS, SIM_SCRAPE_INTERVAL_S
    )
    with PrometheusServer(tsdb) as server:
        yield SimulatedPrometheus(
            url=server.url,
            scenario=scenario,
            tenant_ids=[cluster["tenant_id"] for cluster in scenario["clusters"]],
            days=[date.fromisoformat(day) for day in scenario["days"]],
            scenario_path=scenario_path,
        )


@pytest.fixture(scope="session")
def with_schema() -> Callable[[Settings], Settings]:
    """Give `settings`' embedded ClickHouse (not yet created) the schema: a copy of a
    directory `warehouse.init_schema` set up once per process (tests/schema.py)."""
    return schema.with_schema


@pytest.fixture
def pipeline_settings(
    tmp_path: Path,
    simulated_prometheus: SimulatedPrometheus,
    with_schema: Callable[[Settings], Settings],
) -> Settings:
    """Embedded stores under tmp_path, Thanos = the simulated Prometheus, clusters registered."""
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path / "data"), "THANOS_URL": simulated_prometheus.url}
    )
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    for cluster in simulated_prometheus.scenario["clusters"]:
        registry.add_account(
            database,
            cluster["organization_id"],
            cluster["name"],
            cluster["tenant_id"],
            {"scrape_interval_seconds": simulated_prometheus.scenario["scrape_interval_s"]},
        )
    return with_schema(settings)
