"""The query-string schemas' shared parts: the period, and the fields of the filters.

`PeriodQuery` is the base of every query with `start_date`/`end_date` (clean_expenses,
k8s_costs, k8s_import_status): Unix seconds in ClickHouse's `DateTime` range, the end
not before the start, unknown parameters rejected (a 400 problem). `query_schema`
builds an endpoint's schema from its `FilterSet` (api/query/filters.py), once, at import:
one repeatable field per filter, one per older name where the endpoint takes them,
whose values are merged into the filter's own name after loading.
"""

from __future__ import annotations

from typing import Any, ClassVar

from apiflask import Schema
from apiflask.fields import Field, Integer, List, String
from apiflask.validators import Range
from marshmallow import RAISE, ValidationError, post_load, validates_schema

from api.query.filters import PAIR_PATTERN, Filter, FilterSet, Kind

# ClickHouse `DateTime` holds Unix seconds as UInt32.
MAX_UNIX_SECONDS = 2**32 - 1
END_DESCRIPTION = (
    "End of the period, Unix seconds; days whose midnight UTC is <= end_date are included"
)


def unix_seconds(description: str) -> Integer:
    return Integer(
        required=True,
        validate=Range(min=0, max=MAX_UNIX_SECONDS),
        metadata={"description": description, "example": 1643673600},
    )


class PeriodQuery(Schema):
    """A period: a day counts when its midnight UTC lies in [start_date, end_date]."""

    class Meta:
        unknown = RAISE

    start_date = unix_seconds("Start of the period, Unix seconds")
    end_date = unix_seconds(END_DESCRIPTION)

    @validates_schema
    def _end_not_before_start(self, data: dict[str, Any], **_: Any) -> None:
        if data["end_date"] < data["start_date"]:
            raise ValidationError(
                "end_date must be greater than or equal to start_date", "end_date"
            )


class FilterQuery(PeriodQuery):
    """A period and filters; an older name's values join its filter's after loading."""

    ALIASES: ClassVar[dict[str, str]] = {}

    @post_load
    def _under_filter_names(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        for alias, name in self.ALIASES.items():
            if alias in data:
                data[name] = [*data.get(name, ()), *data.pop(alias)]
        return data


def _filter_field(f: Filter, description: str) -> List:
    def check(values: list[str]) -> None:
        f.check(values)

    if not f.pairs:
        return List(String(), metadata={"description": description})
    # The document states the rule split_pair applies, so a client (and a fuzzer) knows it.
    item = String(metadata={"pattern": PAIR_PATTERN})
    return List(item, validate=check, metadata={"description": description})


def filter_fields(filter_set: FilterSet) -> dict[str, Field]:
    """One field per filter of the set (and per older name, when the set takes them)."""
    fields: dict[str, Field] = {}
    for f in filter_set.filters:
        note = filter_set.allocation_note if f.kind is Kind.ALLOCATION else ""
        fields[f.name] = _filter_field(f, f"{f.description}{note} (repeatable)")
        if filter_set.aliases and f.alias:
            fields[f.alias] = _filter_field(f, f"The older name of {f.name}, the same filter")
    return fields


def query_schema(
    name: str,
    filter_set: FilterSet,
    before: dict[str, Field] | None = None,
    after: dict[str, Field] | None = None,
) -> type[PeriodQuery]:
    """The query schema of an endpoint: the period, `before`, the filters, `after`."""
    attributes: dict[str, Any] = {
        **(before or {}),
        **filter_fields(filter_set),
        **(after or {}),
        "ALIASES": filter_set.alias_names(),
    }
    # Without older names, no post_load hook: loading a query is on every request's path.
    base = FilterQuery if attributes["ALIASES"] else PeriodQuery
    return base.from_dict(attributes, name=name)  # type: ignore[return-value]
