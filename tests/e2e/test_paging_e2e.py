"""Every paged endpoint pages the same with the organization's sharing defaults on.

Issue #25: once an organization had sharing defaults (`k8scost sharing set`), every
clean_expenses request took the sharing path, which ignored `offset` (page 2 repeated
page 1) and dropped the id tie-break. Here the defaults are stored through the command
line, then each paged endpoint of the OpenAPI document is asked for its whole answer
and for its pages: the pages must be disjoint, add up to the whole answer in its
order, and that order must follow the same rule as without sharing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from api.app import create_app
from k8scost.cli import cli

pytestmark = pytest.mark.e2e

ROUTE = "/restapi/v2/organizations/{organization_id}/"
SHARING_DEFAULTS = ("--share-idle", "weighted", "--share-namespaces", "kube-system")
SHARING_DEFAULTS += ("--shared-overhead-hourly", "1")
# Query parameters overriding those defaults back to sharing nothing.
UNSHARED = {"share_idle": "none", "share_namespaces": "", "shared_overhead_hourly": 0}


def _clean_expense_key(item: dict[str, Any]) -> tuple[str, ...]:
    return (item["cloud_account_id"], item["resource_id"])


def _group_key(group: dict[str, Any]) -> tuple[str, ...]:
    return (group["key"], group.get("pod_uid", ""))


def _recommendation_key(found: dict[str, Any]) -> tuple[str, ...]:
    return (found["cloud_account_id"], found["namespace"], found["controller"], found["container"])


# Per paged route: the list it pages, an item's identity, and its order as docs/api.md
# states it (most expensive first; largest savings first), the ids breaking ties:
# written here, not taken from the code.
PAGED: dict[str, tuple[str, Callable[[dict], tuple], Callable[[dict], tuple]]] = {
    "clean_expenses": (
        "clean_expenses",
        _clean_expense_key,
        lambda item: (-item["cost"], item["resource_id"], item["cloud_account_id"]),
    ),
    "k8s_costs": (
        "groups",
        _group_key,
        lambda group: (-group["cost"], group["key"], group.get("pod_uid", "")),
    ),
    "k8s_recommendations": (
        "recommendations",
        _recommendation_key,
        lambda found: (
            found["monthly_savings"] is None,
            -(found["monthly_savings"] or 0.0),
            *_recommendation_key(found),
        ),
    ),
}


def _paged_routes(settings: Any) -> dict[str, set[str]]:
    """The routes of the OpenAPI document taking `limit` or `offset`, with which."""
    spec = create_app(settings).test_client().get("/openapi.json").get_json()
    found = {}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if names & {"limit", "offset"}:
                found[path.removeprefix(ROUTE)] = names & {"limit", "offset"}
    return found


@pytest.fixture(scope="module")
def shared_by_default(loaded: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`loaded` with the organization's sharing defaults stored by `k8scost sharing set`,
    reset afterwards (the other modules read the same history without defaults)."""
    env = {"K8SCOST_DATA_DIR": loaded["settings"].data_dir.as_posix()}

    def sharing(*args: str) -> None:
        result = CliRunner().invoke(
            cli, ["sharing", *args, "--organization-id", loaded["organization"]], env=env
        )
        assert result.exit_code == 0, result.output

    plain = {route: loaded["get"](route) for route in PAGED}
    sharing("set", *SHARING_DEFAULTS)
    try:
        yield {**loaded, "plain": plain}
    finally:
        sharing("set", "--reset")


def test_every_paged_route_of_the_openapi_document_is_covered(loaded):
    routes = _paged_routes(loaded["settings"])
    assert set(routes) == set(PAGED)
    assert routes["clean_expenses"] == {"limit", "offset"}


def _assert_pages_add_up(get: Callable, route: str, offsets: bool, **query: Any) -> list:
    """The whole answer of `route` in its documented order, its pages (with `offset`
    when the route takes one) disjoint and adding up to it, and `limit` alone its head;
    the whole answer's items."""
    field, key, order = PAGED[route]
    whole = get(route, **query)
    items = whole[field]
    assert len(items) >= 2, (route, query)
    assert [key(i) for i in items] == [key(i) for i in sorted(items, key=order)]
    if offsets:
        for size in (1, 2):
            pages = [get(route, limit=size, offset=n, **query) for n in range(0, len(items), size)]
            paged = [key(i) for page in pages for i in page[field]]
            assert paged == [key(i) for i in items], (route, size)
            assert len(set(paged)) == len(paged)  # disjoint
            assert {page["total_count"] for page in pages} == {whole["total_count"]}
        beyond = get(route, limit=1, offset=len(items), **query)
        assert beyond[field] == [] and beyond["total_count"] == whole["total_count"]
    # Without an offset, `limit` gives the first page: the whole answer's head.
    for size in range(1, len(items) + 1):
        head = get(route, limit=size, **query)
        assert [key(i) for i in head[field]] == [key(i) for i in items[:size]], (route, size)
        assert head["total_count"] == whole["total_count"]
    return items


@pytest.mark.parametrize("route", sorted(PAGED))
def test_pages_are_disjoint_and_add_up_to_the_answer_with_sharing_defaults(
    shared_by_default, route
):
    get = shared_by_default["get"]
    field, key, order = PAGED[route]
    offsets = "offset" in _paged_routes(shared_by_default["settings"])[route]
    _assert_pages_add_up(get, route, offsets)
    if route != "k8s_recommendations":  # right-sizing has no sharing
        assert "sharing" in get(route), route
    # One order rule with and without sharing: most expensive first, then the ids.
    plain = shared_by_default["plain"][route][field]
    assert [key(i) for i in plain] == [key(i) for i in sorted(plain, key=order)]


@pytest.mark.parametrize(
    "narrowed", [{}, {"k8s_namespace": "kube-system"}], ids=["every item", "allocation filter"]
)
def test_clean_expenses_pages_alike_shared_and_not_on_the_same_organization(
    shared_by_default, narrowed
):
    """The defaults shared; the same request overriding them to share nothing takes the
    answer's other branch (ClickHouse orders and pages): both page by the one rule, and
    hold the same items, only their costs moved by sharing."""
    get = shared_by_default["get"]
    shared = _assert_pages_add_up(get, "clean_expenses", True, **narrowed)
    unshared = _assert_pages_add_up(get, "clean_expenses", True, **narrowed, **UNSHARED)
    assert "sharing" in get("clean_expenses", **narrowed)
    assert "sharing" not in get("clean_expenses", **narrowed, **UNSHARED)
    key = PAGED["clean_expenses"][1]
    assert sorted(map(key, shared)) == sorted(map(key, unshared))
