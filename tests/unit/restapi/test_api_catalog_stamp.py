"""Issue #26, finding 5: the catalog knows when it changed. Two apps stand for two API
processes (each keeps its own catalogs); what one import or registration writes is
in the next answer of both, and an unchanged organization is not rebuilt; writers
racing on the first stamp both leave one."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from pymongo.errors import DuplicateKeyError

from api.app import create_app
from api.catalog.cache import CATALOG_EXTENSION
from etl.bills import import_bill
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from etl.storage.catalog_versions import COLLECTION, catalog_changed, catalog_version
from tests.api_data import Api, add_cloud_account, day, write_cost

ORG = "org-1"
PERIOD = (day_start_epoch(day(1)), day_start_epoch(day(3)))


@pytest.fixture
def processes(settings: Settings, db: Any) -> list[Api]:
    """Two apps on the same stores, each having answered once (their catalogs built)."""
    add_cloud_account(db, ORG, "aws-1")
    write_cost(settings, "aws-1", "vm-a", 1, 2.0)
    apis = [Api(create_app(settings).test_client(), db) for _ in range(2)]
    for api in apis:
        assert api.expenses(ORG, *PERIOD)["total_count"] == 1
    return apis


def builds(api: Api) -> int:
    app: APIFlask = api.client.application
    return app.extensions[CATALOG_EXTENSION].builds


def write_bill(path: Path, account: str, resource: str, cost: str, tags: str = "") -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ProviderName", "SubAccountId", "ChargePeriodStart", "BilledCost",
                         "ResourceId", "ServiceName", "Tags"])  # fmt: skip
        writer.writerow(["AWS", account, f"{day(2)}T00:00:00Z", cost, resource, "EC2", tags])
    return path


def test_an_imported_account_is_counted_at_once_by_every_process(
    processes: list[Api], settings: Settings, tmp_path: Path
) -> None:
    import_bill(settings, ORG, write_bill(tmp_path / "bill.csv", "222222222222", "i-new", "5"))

    for api in processes:
        answer = api.expenses(ORG, *PERIOD)
        assert answer["total_count"] == 2
        assert answer["total_cost"] == 2.0 + 5.0
        assert "i-new" in {item.get("cloud_resource_id") for item in answer["clean_expenses"]}


def test_a_reimport_that_changes_tags_is_answered_at_once(
    processes: list[Api], settings: Settings, tmp_path: Path
) -> None:
    bill = tmp_path / "bill.csv"
    import_bill(settings, ORG, write_bill(bill, "222222222222", "i-new", "5", '{"team": "a"}'))
    for api in processes:
        items = api.expenses(ORG, *PERIOD, tag="team")["clean_expenses"]
        assert [item["tags"] for item in items] == [{"team": "a"}]

    import_bill(settings, ORG, write_bill(bill, "222222222222", "i-new", "5", '{"team": "b"}'))

    for api in processes:
        items = api.expenses(ORG, *PERIOD, tag="team")["clean_expenses"]
        assert [item["tags"] for item in items] == [{"team": "b"}]


def test_a_registered_cluster_is_counted_at_once(
    processes: list[Api], settings: Settings, db: Any
) -> None:
    account = registry.add_account(db, ORG, "cluster", "k8s-1")
    cluster = registry.record_cluster_seen(db, account, day(1), {"name": "prod"})
    write_cost(settings, "k8s-1", cluster["_id"], 1, 3.0)

    for api in processes:
        answer = api.expenses(ORG, *PERIOD)
        assert answer["total_count"] == 2
        assert answer["total_cost"] == 2.0 + 3.0


def test_an_unchanged_organization_is_not_rebuilt(
    processes: list[Api], settings: Settings, db: Any
) -> None:
    before = [builds(api) for api in processes]
    add_cloud_account(db, "org-other", "aws-9")  # written by hand: no stamp
    registry.add_account(db, "org-other", "theirs", "k8s-9")  # another organization's stamp

    for api in processes:
        api.expenses(ORG, *PERIOD)

    assert [builds(api) for api in processes] == before


def test_racing_writers_each_leave_a_stamp_no_catalog_was_built_at(db: Any) -> None:
    """The first stamp of an organization may be created by two processes at once: the
    loser of montydb's upsert race updates the winner's document."""
    seen = {catalog_version(db, ORG)}
    catalog_changed(db, ORG)
    seen.add(catalog_version(db, ORG))

    class LateUpsert:
        """The collection as the loser sees it: its upsert finds the document created."""

        def __init__(self) -> None:
            self.calls: list[bool] = []

        def update_one(self, query: Any, change: Any, upsert: bool = False) -> Any:
            self.calls.append(upsert)
            if upsert:
                raise DuplicateKeyError("E11000 duplicate key")
            return db[COLLECTION].update_one(query, change)

    late = LateUpsert()
    catalog_changed({COLLECTION: late}, ORG)  # type: ignore[arg-type]

    assert late.calls == [True, False]
    assert catalog_version(db, ORG) not in seen
    assert len(seen) == 2
