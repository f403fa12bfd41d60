"""The cloud-bill importer's public names; the code lives in the `etl.bills` package."""

from __future__ import annotations

from etl.bills.command import cloud_command
from etl.bills.ids import account_id, account_level_id, account_type, resource_id
from etl.bills.load import ImportSummary, import_bill
from etl.bills.sources import MalformedBillError

__all__ = [
    "ImportSummary",
    "MalformedBillError",
    "account_id",
    "account_level_id",
    "account_type",
    "cloud_command",
    "import_bill",
    "resource_id",
]
