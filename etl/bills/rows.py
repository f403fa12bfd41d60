"""Check one batch of FOCUS rows and turn it into the importer's clean columns.

The checks are the ones that would make a cost wrong or unplaceable: BilledCost
a number within the money bound (etl/core/money.py), ChargePeriodStart an ISO 8601
time of a day the stores hold (or BigQuery's text form of one, `... UTC`; a time
that reads but lies outside those days is reported as out of range, not as
unreadable), ChargePeriodEnd (when the file has it) not before its start, an
account (SubAccountId, else BillingAccountId: FOCUS lets a sub-account be null,
e.g. for charges of the billing account itself), the currency the K8s costs use,
Tags a JSON object. Anything else FOCUS allows, or that a provider writes
loosely, is taken as it is: a provider never seen before, nulls in any column,
negative credits, rows without a ResourceId. Even a null ProviderName or
ServiceName (which FOCUS forbids) is imported: the provider is then the
ServiceProviderName (FOCUS 1.3's name for it), InvoiceIssuerName or PublisherName,
the service the ServiceCategory, else `Unknown`, since the cost is still the bill's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from etl.bills.costs import METRIC_SOURCES, amounts, metric_costs
from etl.bills.ids import account_type
from etl.core.days import DAY_RANGE_TEXT, FIRST_DAY, LAST_DAY, day_end, day_start

REQUIRED_COLUMNS = ("BilledCost", "ChargePeriodStart", "ServiceName")
# Who the provider is: FOCUS 1.3 renamed ProviderName to ServiceProviderName; a null
# one falls back to the invoice issuer, then the publisher.
PROVIDER_COLUMNS = ("ProviderName", "ServiceProviderName", "InvoiceIssuerName", "PublisherName")
ACCOUNT_COLUMNS = ("SubAccountId", "BillingAccountId")  # the first present one names the account
TEXT_COLUMNS = (
    *PROVIDER_COLUMNS,
    "ServiceName",
    *ACCOUNT_COLUMNS,
    "SubAccountName",
    "BillingAccountName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "RegionId",
    "RegionName",
    "ChargeCategory",
    "BillingCurrency",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "CommitmentDiscountId",
)
UNKNOWN = "Unknown"
# Unused commitment (FOCUS CommitmentDiscountStatus): an item of its own, per commitment.
UNUSED = "Unused"
UNUSED_COMMITMENT = "Unused Commitment"
PERIOD_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd")
CHARGE_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd")
WANTED_COLUMNS = (
    "BilledCost",
    *METRIC_SOURCES.values(),
    *CHARGE_COLUMNS,
    *TEXT_COLUMNS,
    *PERIOD_COLUMNS,
    "Tags",
)
CURRENCY = "USD"
MAX_LISTED = 10
# The times of the days the stores hold (etl/core/days.py): a start before LAST_TIME,
# an (exclusive) end at or before it.
FIRST_TIME = pd.Timestamp(day_start(FIRST_DAY))
LAST_TIME = pd.Timestamp(day_end(LAST_DAY))
ONE_MICROSECOND = pd.Timedelta(1, unit="us")
# BigQuery writes a TIMESTAMP as text `2024-09-01 07:00:00[.ffffff] UTC` (`bq extract`
# to CSV or JSON, the form Google's FOCUS export takes as a file: docs/api.md): the
# suffix is UTC's name for what ISO 8601 writes `Z`.
BIGQUERY_UTC = r"\s+UTC\Z"


def missing_columns(columns: list[str]) -> list[str]:
    """The FOCUS columns a file lacks to be imported at all."""
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if not any(column in columns for column in ACCOUNT_COLUMNS):
        missing.append(" or ".join(ACCOUNT_COLUMNS))
    if not any(column in columns for column in PROVIDER_COLUMNS[:2]):
        missing.append(" or ".join(PROVIDER_COLUMNS[:2]))
    return missing


class Problems:
    """Every bad cell of a bill, counted; the first MAX_LISTED described."""

    def __init__(self) -> None:
        self.count = 0
        self.listed: list[str] = []

    def flag(
        self,
        mask: pd.Series,
        column: str,
        describe: Callable[[int], str],
        where: Callable[[int], str],
    ) -> None:
        """Record the rows of `mask` (positions in the batch) as bad in `column`."""
        hits = np.flatnonzero(mask.to_numpy(dtype=bool))
        room = max(MAX_LISTED - len(self.listed), 0)
        self.listed += [
            f"{where(int(at))}, column {column}: {describe(int(at))}" for at in hits[:room]
        ]
        self.count += len(hits)

    def add(self, where: str, column: str, text: str) -> None:
        """Record one bad cell."""
        if len(self.listed) < MAX_LISTED:
            self.listed.append(f"{where}, column {column}: {text}")
        self.count += 1

    def message(self, source: str) -> str:
        more = self.count - len(self.listed)
        suffix = f"; and {more} more" if more > 0 else ""
        return f"{source}: not loaded, {self.count} problem(s): {'; '.join(self.listed)}{suffix}"


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column as Python text, None where null (the reader already made NULL null)."""
    if column not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna(), None)


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    times = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    unread = times.isna() & values.notna()
    if unread.any() and (values.dtype == object or pd.api.types.is_string_dtype(values)):
        # Only what ISO 8601 did not read is tried again: the usual bill pays nothing.
        text = values[unread].str.replace(BIGQUERY_UTC, "Z", regex=True)
        times[unread] = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return times


def _time_problem(text: Any) -> str:
    """Why a cell is not a usable time: out of range when it reads as one (pandas reads
    no year after 2262, Python's datetime every year to 9999), else not a time."""
    try:
        datetime.fromisoformat(re.sub(BIGQUERY_UTC, "+00:00", str(text)))
    except ValueError:
        return f"{text!r} is not an ISO 8601 time"
    return f"{text!r} is out of range: the stores hold days {DAY_RANGE_TEXT} (UTC)"


def _checked_times(
    frame: pd.DataFrame,
    column: str,
    problems: Problems,
    where: Callable[[int], str],
    exclusive_end: bool = False,
) -> tuple[pd.Series, pd.Series]:
    """The column's times and which of them are usable; the others given are flagged.

    An `exclusive_end` (FOCUS's period ends) may be the end of the last day.
    """
    raw = frame[column]
    times = _times(frame, column)
    beyond = times > LAST_TIME if exclusive_end else times >= LAST_TIME
    bad = raw.notna() & (times.isna() | (times < FIRST_TIME) | beyond)
    problems.flag(bad, column, lambda at: _time_problem(raw.iloc[at]), where)
    return times, raw.notna() & ~bad


def _days(times: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 (UTC) of valid times."""
    return times.dt.tz_convert(None).to_numpy().astype("datetime64[D]").astype(np.int64)


def _tag_value(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def parse_tags(value: Any) -> dict[str, str] | None:
    """A Tags cell: a JSON object (CSV), a map, a struct or key/value structs (Parquet)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        value = json.loads(value)
        if not isinstance(value, dict):
            raise ValueError("is not a JSON object")
    elif isinstance(value, list | tuple | np.ndarray):
        pairs = [
            (item["key"], item.get("value")) if isinstance(item, dict) else item for item in value
        ]
        value = dict(pairs)
    if not isinstance(value, dict):
        raise ValueError("is not a map of tags")
    return {str(key): _tag_value(item) for key, item in value.items()} or None


def _tags(frame: pd.DataFrame, problems: Problems, where: Callable[[int], str]) -> pd.Series:
    """Each row's tags (None: none); text cells are parsed once per distinct text."""
    cells = _text(frame, "Tags")
    parsed: dict[str, Any] = {}
    out: list[dict[str, str] | None] = []
    for at, cell in enumerate(cells):
        key = cell if isinstance(cell, str) else None
        try:
            if key is None:
                out.append(parse_tags(cell))
                continue
            if key not in parsed:
                parsed[key] = parse_tags(key)
            out.append(parsed[key])
        except ValueError as error:
            problems.add(where(at), "Tags", f"{cell!r} {error}")
            out.append(None)
    return pd.Series(out, index=frame.index, dtype=object)


def _coalesce(*columns: pd.Series) -> pd.Series:
    result = columns[0]
    for column in columns[1:]:
        result = result.where(result.notna(), column)
    return result


def _item_refs(
    resource_ids: pd.Series, account_level: pd.Series, service: pd.Series, category: pd.Series
) -> pd.Series:
    """What tells an account's items apart: the ResourceId, else (service, category)."""
    refs = resource_ids.copy()
    refs[account_level] = [
        json.dumps(pair)
        for pair in zip(service[account_level], category[account_level], strict=True)
    ]
    return refs


def _cost(frame: pd.DataFrame, problems: Problems, where: Callable[[int], str]) -> pd.Series:
    problems.flag(frame["BilledCost"].isna(), "BilledCost", lambda _: "is empty", where)
    return amounts(frame, "BilledCost", problems, where)


def _charge_days(
    frame: pd.DataFrame, problems: Problems, where: Callable[[int], str]
) -> np.ndarray:
    """Each row's charge day (its start's); an end, when given, must not precede it."""
    raw = frame["ChargePeriodStart"]
    problems.flag(raw.isna(), "ChargePeriodStart", lambda _: "is empty", where)
    starts, usable = _checked_times(frame, "ChargePeriodStart", problems, where)
    if "ChargePeriodEnd" in frame:
        ends, given = _checked_times(frame, "ChargePeriodEnd", problems, where, True)
        raw_end = frame["ChargePeriodEnd"]
        problems.flag(
            usable & given & (ends < starts),
            "ChargePeriodEnd",
            lambda at: f"{raw_end.iloc[at]!r} is before ChargePeriodStart {raw.iloc[at]!r}",
            where,
        )
    return _days(starts.where(usable, FIRST_TIME))


def _periods(
    frame: pd.DataFrame, charge_days: np.ndarray, problems: Problems, where: Callable[[int], str]
) -> tuple[np.ndarray, np.ndarray]:
    """First and last day of each row's billing period (its charge month when not given)."""
    month = charge_days.astype("datetime64[D]").astype("datetime64[M]")
    first = month.astype("datetime64[D]").astype(np.int64)
    last = (month + 1).astype("datetime64[D]").astype(np.int64) - 1
    if not all(column in frame for column in PERIOD_COLUMNS):
        return first, last
    start, start_given = _checked_times(frame, "BillingPeriodStart", problems, where)
    end, end_given = _checked_times(frame, "BillingPeriodEnd", problems, where, True)
    given = start_given & end_given
    backwards = given & (end <= start)
    problems.flag(
        backwards, "BillingPeriodEnd", lambda at: "is not after BillingPeriodStart", where
    )
    given &= ~backwards
    if given.any():
        chosen = given.to_numpy()
        first[chosen] = _days(start[given])
        last[chosen] = _days(end[given] - ONE_MICROSECOND)
    return first, last


def clean_batch(
    frame: pd.DataFrame, problems: Problems, where: Callable[[int], str]
) -> pd.DataFrame:
    """Check the batch (recording its problems) and give its rows as the importer's columns.

    Columns: account_type, account_ref, account_name, provider, account_level,
    unused_commitment, item_ref, name, resource_type, service_name, region, charge_category,
    pricing_category, commitment_discount_status, commitment_discount_id, tags,
    day, period_first, period_last (days since 1970-01-01), cost (BilledCost),
    effective_cost, list_cost, contracted_cost. The day is the charge's, even
    outside its billing period (a correction billed in October for September hours
    lands on its September day); the billing period is kept beside it.
    """
    text = {column: _text(frame, column) for column in TEXT_COLUMNS}
    cost = _cost(frame, problems, where)
    commitment_purchase = (
        text["ChargeCategory"].eq("Purchase") & text["CommitmentDiscountId"].notna()
    )
    metrics = metric_costs(frame, cost, commitment_purchase, problems, where)
    charge_days = _charge_days(frame, problems, where)
    period_first, period_last = _periods(frame, charge_days, problems, where)
    account_ref = _coalesce(text["SubAccountId"], text["BillingAccountId"])
    problems.flag(
        account_ref.isna(), "SubAccountId", lambda _: "is empty, and so is BillingAccountId", where
    )
    currency = text["BillingCurrency"]
    problems.flag(
        currency.notna() & currency.ne(CURRENCY),
        "BillingCurrency",
        lambda at: f"{currency.iloc[at]!r} is not {CURRENCY}",
        where,
    )
    tags = _tags(frame, problems, where)
    if problems.count:
        return frame.iloc[0:0]
    providers = _coalesce(*(text[column] for column in PROVIDER_COLUMNS)).fillna(UNKNOWN)
    kinds = {provider: account_type(provider) for provider in providers.unique()}
    # A commitment's unused part is its own item, whichever ResourceId the bill gives it
    # (the spec's examples use the commitment's, or the VM it was bought for): never
    # merged into a resource's cost, so it cannot pass for usage.
    commitment = _coalesce(text["CommitmentDiscountId"], text["ResourceId"])
    unused = text["CommitmentDiscountStatus"].eq(UNUSED) & commitment.notna()
    account_level = text["ResourceId"].isna() & ~unused
    category = text["ChargeCategory"]
    service = _coalesce(text["ServiceName"], text["ServiceCategory"]).fillna(UNKNOWN)
    labels = service.where(category.isna(), service + " (" + category.fillna("") + ")")
    account_names = text["SubAccountName"].where(
        text["SubAccountId"].notna(), text["BillingAccountName"]
    )
    resource_type = _coalesce(text["ResourceType"], text["ServiceCategory"])
    return pd.DataFrame(
        {
            "account_type": providers.map(kinds),
            "account_ref": account_ref,
            "account_name": account_names,
            "provider": providers,
            "account_level": account_level,
            "unused_commitment": unused,
            "item_ref": _item_refs(text["ResourceId"], account_level, service, category).where(
                ~unused, commitment
            ),
            "name": text["ResourceName"]
            .where(~account_level, labels)
            .where(~unused, commitment + " (unused)"),
            "resource_type": resource_type.where(~account_level, category)
            .where(~unused, UNUSED_COMMITMENT)
            .fillna("Other"),
            "service_name": service,
            "region": _coalesce(text["RegionId"], text["RegionName"]).where(~account_level, None),
            "charge_category": category,
            "pricing_category": text["PricingCategory"],
            "commitment_discount_status": text["CommitmentDiscountStatus"],
            "commitment_discount_id": text["CommitmentDiscountId"],
            "tags": tags,
            "day": charge_days,
            "period_first": period_first,
            "period_last": period_last,
            "cost": cost.to_numpy(dtype=float),
            **metrics,
        }
    )
