"""Cloud bills in the FinOps FOCUS format -> cloud accounts, resources and daily expenses.

`sources` finds the files of a bill (a file, a folder, an S3 prefix), `reader`
streams them in batches, `rows` checks and normalizes a batch, `totals` folds the
batches into what will be written, `load` writes it (MongoDB, then ClickHouse
restatements), `ids` derives the stable ids; the command line is k8scost/cloud.py. The rules
are in docs/api.md ("Cloud bills").
"""

from etl.bills.ids import (
    account_id,
    account_level_id,
    account_type,
    resource_id,
    unused_commitment_id,
)
from etl.bills.load import ImportSummary, import_bill
from etl.bills.sources import MalformedBillError

__all__ = [
    "ImportSummary",
    "MalformedBillError",
    "account_id",
    "account_level_id",
    "account_type",
    "import_bill",
    "resource_id",
    "unused_commitment_id",
]
