"""Cloud bills in the FinOps FOCUS format -> cloud accounts, resources and daily expenses.

`sources` finds the files of a bill (a file, a folder, an S3 prefix), `reader`
streams them in batches, `rows` checks and normalizes a batch, `totals` folds the
batches into what will be written, `load` writes it (MongoDB, then ClickHouse
restatements), `ids` derives the stable ids, `command` is the CLI. The rules
are in docs/api.md ("Cloud bills").
"""
