"""The exact sum of sql/include/macros.sql (`exact_sum`, docs/api.md "Summation: same
rows, same bits"): whatever the parts the rows were inserted in, their order and the
threads reading them, the same rows sum to the same bits, and amounts of at most 12
decimal places sum to their exact Decimal sum rounded once to the nearest double. Its
Python twin (etl/core/exactsum.py, which the API's totals of query rows use) answers
the engine's bits for the same values.

The expected figures are Python's: `decimal` sums the amounts exactly, and float() of a
Decimal rounds correctly; nothing here reuses the SQL's arithmetic.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.core.exactsum import exact_sum
from etl.storage.clickhouse import connect
from etl.storage.sqlfiles import ENVIRONMENT

MACROS = ENVIRONMENT.get_template("include/macros.sql").module
EXACT_SUM = MACROS.exact_sum("x")  # type: ignore[attr-defined]
TABLES = itertools.count()
THREADS = (1, 3, 8)

# Money as a bill or a price sheet writes it: up to 12 decimal places, below 1000 in
# magnitude, where a double holds every such amount closer than half of 10^-12.
AMOUNTS = st.decimals(min_value=-999, max_value=999, places=12, allow_nan=False)
# Any double an importer accepts (etl/core/money.py: at most 1e12 in magnitude).
DOUBLES = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_subnormal=True)
# And around the bound, where the units of a sum pass 2^53 (about 9,007) and the
# engine's conversion back rounds twice.
LARGE = st.one_of(DOUBLES, st.floats(min_value=-2e15, max_value=2e15), st.sampled_from([1e15]))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('exact') / 'ch'}") as client:
        yield client


def _table(client: Any, parts: list[list[float]]) -> str:
    """A MergeTree table holding `parts`, one INSERT (one part) each; its name."""
    name = f"exact_sum_rows_{next(TABLES)}"
    client.command(f"CREATE TABLE {name} (k UInt32, x Float64) ENGINE = MergeTree ORDER BY k")
    for part in parts:
        client.insert(name, [(i % 3, value) for i, value in enumerate(part)], ["k", "x"])
    return name


def _sums(client: Any, table: str) -> set[float]:
    """What exact_sum, per thread count, and exact_array_sum over groupArray answer;
    then the same after the parts are merged."""
    array_sum = MACROS.exact_array_sum("v", "v", "groupArray(x)")  # type: ignore[attr-defined]
    answers = set()
    for merged in (False, True):
        if merged:
            client.command(f"OPTIMIZE TABLE {table} FINAL")
        for threads in THREADS:
            query = f"SELECT {EXACT_SUM}, {array_sum} FROM {table}"
            for row in client.query(query, settings={"max_threads": threads}).result_rows:
                answers.update(row)
    client.command(f"DROP TABLE {table}")
    return answers


def _splits(draw: st.DrawFn, values: list[Any]) -> list[list[Any]]:
    """`values` shuffled and cut into parts at drawn places."""
    shuffled = draw(st.permutations(values))
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=6)))
    bounds = [0, *cuts, len(values)]
    return [list(shuffled[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data(), amounts=st.lists(AMOUNTS, min_size=1, max_size=40))
def test_amounts_sum_to_their_exact_decimal_sum_in_any_parts_and_order(
    client: Any, data: st.DataObject, amounts: list[Decimal]
) -> None:
    doubles = [float(amount) for amount in amounts]
    first = _sums(client, _table(client, [doubles]))
    again = _sums(client, _table(client, _splits(data.draw, doubles)))

    assert first == again == {float(sum(amounts, Decimal(0)))}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data(), values=st.lists(DOUBLES, min_size=1, max_size=40))
def test_any_doubles_sum_to_one_answer_within_the_scale_of_the_exact_sum(
    client: Any, data: st.DataObject, values: list[float]
) -> None:
    answers = _sums(client, _table(client, _splits(data.draw, values)))
    answers |= _sums(client, _table(client, _splits(data.draw, values)))

    (answer,) = answers
    exact = math.fsum(values)
    # Each value is taken to 10^-12 (half a unit) after a product rounded to a double
    # (half an ulp of value x 10^12); the sum is rounded once more to a double.
    bound = sum(0.5e-12 + abs(value) * 2.0**-53 for value in values) + abs(exact) * 2.0**-53
    assert abs(answer - exact) <= bound


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1, 0.2], "0.3"),  # a double sum gives 0.30000000000000004
        ([1e308, 1e308], "inf"),  # beyond the bound: summed as doubles, for the API to refuse
        ([-1e308, -1e308, 1.0], "-inf"),
        ([math.nan, 1.0], "nan"),
        ([1e15, 0.5, -1e15], "0.5"),  # at the bound, the rest still exact
    ],
)
def test_values_beyond_the_exact_range_come_out_as_large_or_non_finite_as_they_sum(
    client: Any, values: list[float], expected: str
) -> None:
    table = _table(client, [values])
    (answer,) = client.query(f"SELECT {EXACT_SUM} FROM {table}").result_rows[0]
    client.command(f"DROP TABLE {table}")

    assert repr(answer) == repr(float(expected))


def _engine_sum(client: Any, values: list[float]) -> float:
    query = f"SELECT {EXACT_SUM} FROM (SELECT arrayJoin({{values:Array(Float64)}}) AS x)"
    return client.query(query, parameters={"values": values}).result_rows[0][0]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(values=st.lists(LARGE, min_size=1, max_size=40))
def test_the_python_exact_sum_answers_the_engines_bits(client: Any, values: list[float]) -> None:
    assert repr(exact_sum(values)) == repr(_engine_sum(client, values))


@pytest.mark.parametrize(
    "values",
    [
        [0.1, 0.2],
        [9007.199254740993, 0.000000000001],  # units beyond 2^53: rounded twice, as the engine
        [123456789.123456789, 987654321.987654321, 1e-12],
        [1e308, 1e308],
        [-1e308, -1e308, 1.0],
        [math.nan, 1.0],
        [math.inf, -1.0],
        [1e15, 0.5, -1e15],
        [0.5e-12, 1.5e-12, 2.5e-12, -2.5e-12],  # ties of the units, to even
    ],
)
def test_the_python_exact_sum_answers_the_engines_bits_at_the_edges(
    client: Any, values: list[float]
) -> None:
    assert repr(exact_sum(values)) == repr(_engine_sum(client, values))


def test_null_stays_null_and_counts_as_nothing_beside_values(client: Any) -> None:
    query = (
        f"SELECT {MACROS.exact_sum('x')} FROM "  # type: ignore[attr-defined]
        "(SELECT CAST(arrayJoin({values:Array(Nullable(Float64))}) AS Nullable(Float64)) AS x)"
    )
    only_null = client.query(query, parameters={"values": [None, None]}).result_rows
    mixed = client.query(query, parameters={"values": [None, 0.25, 0.5]}).result_rows

    assert (only_null, mixed) == ([(None,)], [(0.75,)])
