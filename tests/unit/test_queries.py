"""The query set: tenant scoping, day edges, deduplication, and its size."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from etl.core.answers import ANSWERS
from etl.metroculus.extract import FOLLOW_UP, QUERY_COUNT
from etl.metroculus.lives import names_matcher
from etl.metroculus.promql import PromQLError
from etl.metroculus.queries import (
    COUNTER,
    GAUGE,
    MATRIX,
    QUERIES,
    bucket_s,
    evaluation_time,
    tenant_selector,
)
from etl.metroculus.split import PARTS, over_the_limit, shard_matchers


def test_every_query_is_scoped_to_the_tenant():
    for query in QUERIES:
        rendered = query.render("tenant-1")
        assert "{sel" not in rendered
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
        if query.kind == MATRIX or not query.labels:
            continue  # raw samples or per-series figures: merged with max in pandas
        if "sum by" in query.template:
            inner = query.template.split("sum by", 1)[1]
            assert "max by" in inner, query.name
        else:
            assert query.template.startswith(
                ("max by", "min by", "max without", "label_replace(max(", "(max by")
            ), query.name


def test_every_answer_comes_from_the_query_set_and_no_query_is_sent_twice():
    names = [query.name for query in QUERIES]
    assert len(names) == len(set(names))
    assert len(ANSWERS) == len({answer.name for answer in ANSWERS})
    assert len(QUERIES) + len(FOLLOW_UP) == QUERY_COUNT


@pytest.mark.parametrize("step_s", [60, 300, 480, 3600, 7200])
def test_the_presence_mask_has_at_most_24_buckets_of_whole_steps(step_s):
    size = bucket_s(step_s)
    assert size % step_s == 0 and 86400 % size == 0 and 86400 // size <= 24


def test_a_names_matcher_escapes_and_can_select_nothing():
    assert names_matcher("pod", ["b.c", "a"]) == 'pod=~"a|b\\\\.c"'
    assert names_matcher("pod", []) == 'pod=~"",pod!=""'


@pytest.mark.parametrize("parts", PARTS)
def test_shards_select_every_name_exactly_once(parts):
    """The parts of a split query (PromQL regexes match whole values, like fullmatch)."""
    names = ["", "web-7d4b9c-x2kqz", "db-0", "NODE-A", "ip-10-0-1-9.ec2.internal", "é", "z", "9"]
    for name in names:
        hits = 0
        for matcher in shard_matchers("pod", parts):
            negated, pattern = "!~" in matcher, matcher.split('"')[1]
            hits += bool(re.fullmatch(pattern, name)) != negated
        assert hits == 1, (name, parts)
    assert len(shard_matchers("pod", parts)) == parts


def test_every_query_that_can_be_split_is_keyed_by_its_shard_label():
    """A query is split only by a label its rows are grouped by, so one row (and its
    duplicates) never falls in two parts; the tiny cross-entity ones are not split."""
    for query in QUERIES:
        label = query.shard_label()
        if query.kind == MATRIX:
            continue
        if not label:
            assert query.name in {"cluster_info", "network_class_price"}, query.name
        elif query.labels:
            assert label in query.labels, query.name
        rendered = query.render("t", 60, 'pod=~".*[0]"')
        assert rendered.count('{tenant_id="t",pod=~".*[0]"') == rendered.count("{"), query.name


def test_the_engines_sample_limits_are_recognized():
    """Prometheus' and Thanos Query's engine limit, and a Thanos store's, as they word it."""
    engine = "query processing would load too many samples into memory in query execution"
    store = "rpc error: code = Aborted desc = exceeded samples limit: limit 1000 violated"
    assert over_the_limit(PromQLError(engine)) and over_the_limit(PromQLError(store))
    assert not over_the_limit(PromQLError("bad_data: 1:5: parse error"))
