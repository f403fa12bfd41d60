"""The query set: tenant scoping, day edges, deduplication."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from etl.metroculus.queries import COUNTER, GAUGE, QUERIES, evaluation_time, tenant_selector


def test_every_query_is_scoped_to_the_tenant():
    for query in QUERIES:
        rendered = query.render("tenant-1")
        assert "{sel}" not in rendered
        selectors = rendered.count("{")
        scoped = rendered.count('{tenant_id="tenant-1"}') + rendered.count('{tenant_id="tenant-1",')
        assert scoped == selectors, query.name


@pytest.mark.parametrize("tenant", ['x"} or vector(1) or {a="', "a\\b", "", "a b"])
def test_a_tenant_id_cannot_inject_promql(tenant):
    with pytest.raises(ValueError, match="tenant id"):
        tenant_selector(tenant)


def test_gauges_end_at_the_last_millisecond_and_counters_at_midnight():
    day = date(2026, 6, 1)
    assert evaluation_time(day, GAUGE) == datetime(2026, 6, 1, 23, 59, 59, 999000, tzinfo=UTC)
    assert evaluation_time(day, COUNTER) == datetime(2026, 6, 2, tzinfo=UTC)


def test_aggregations_deduplicate_with_max_before_any_sum():
    for query in QUERIES:
        if "sum by" in query.template:
            inner = query.template.split("sum by", 1)[1]
            assert "max by" in inner, query.name
        else:
            # min (first sample times) and max without (info series) deduplicate too.
            assert query.template.startswith(
                ("max by", "min by", "max without", "label_replace(max(", "(max by")
            ), query.name
