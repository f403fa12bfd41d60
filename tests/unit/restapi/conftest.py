"""Fixtures of the API tests: stores under tmp_path, the app and a client with tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from apiflask import APIFlask

from api.app import create_app
from etl.core.config import Settings
from etl.storage import registry
from etl.storage.clickhouse import connect
from tests.api_data import (
    CATALOG,
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    write_cost,
    write_costs,
)


@pytest.fixture
def bare_settings(tmp_path) -> Settings:
    """Settings for stores under tmp_path, before any table exists."""
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})


@pytest.fixture
def settings(
    bare_settings: Settings, with_schema: Callable[[Settings], Settings]
) -> Iterator[Settings]:
    """The same, with the warehouse's tables (tests/conftest.py `with_schema`), the
    embedded engine kept running for the test: its writes (tests/api_data.py) each open
    a client, and one opened while another is open shares the running engine instead
    of starting it and shutting it down again, as the API's own pool does."""
    with connect(with_schema(bare_settings).clickhouse_dsn):
        yield bare_settings


@pytest.fixture
def db(settings: Settings) -> Any:
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


@pytest.fixture
def app(settings: Settings) -> APIFlask:
    return create_app(settings)


@pytest.fixture
def api(app: APIFlask, db: Any) -> Iterator[Api]:
    with app.test_client() as test_client:
        yield Api(test_client, db)


@pytest.fixture
def catalog_org(settings: Settings, db: Any) -> dict[str, float]:
    """CATALOG in account aws-1, plus a cluster in acc-k8s; resource id -> cost."""
    add_cloud_account(db, "org-1", "aws-1")
    for resource_id, (fields, _) in CATALOG.items():
        add_resource(db, "org-1", "aws-1", resource_id, **fields)
    write_costs(settings, "aws-1", 1, {rid: cost for rid, (_, cost) in CATALOG.items()})
    cluster = add_cluster(db, "org-1", "acc-k8s", [1])
    write_cost(settings, "acc-k8s", cluster, 1, 16.0)
    return {**{rid: cost for rid, (_, cost) in CATALOG.items()}, cluster: 16.0}
