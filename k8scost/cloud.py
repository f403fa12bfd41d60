"""`k8scost cloud import --organization-id ORG SOURCE`: a FOCUS bill into the organization
(etl/bills/, whose `import_bill` does the work; this is its command line and progress bar)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from etl.bills.load import Bar, import_bill
from etl.bills.rows import CURRENCY
from etl.core.config import Settings


@contextmanager
def _terminal_progress(label: str, total: int) -> Iterator[Bar]:
    """A bar on a terminal's stderr; elsewhere click prints the label once, no bar, to
    stdout, so that stderr holds only the one `error: ...` line of a failure."""
    out = sys.stderr if sys.stderr.isatty() else sys.stdout
    with click.progressbar(length=max(total, 1), label=label, file=out) as bar:
        yield bar


@click.group("cloud")
def cloud_command() -> None:
    """Cloud bills (AWS, Azure, Google Cloud, Oracle, any FOCUS provider)."""


@cloud_command.command("import")
@click.option("--organization-id", required=True)
@click.argument("source", metavar="FILE|DIR|s3://BUCKET/PREFIX/")
@click.pass_obj
def cloud_import_command(settings: Settings, organization_id: str, source: str) -> None:
    """Load a FOCUS export (CSV, CSV.gz, Parquet; one file, a folder or an S3 prefix)."""
    summary = import_bill(settings, organization_id, source, _terminal_progress)
    click.echo(
        f"imported {source}: {summary.files} file(s), {summary.rows} row(s), "
        f"{summary.accounts} account(s) ({summary.new_accounts} new), "
        f"{summary.resources} resource(s) ({summary.new_resources} new), "
        f"{summary.account_days} account-day(s), {summary.cost:.6f} {CURRENCY}"
    )
    if summary.duplicate_rows:
        click.echo(
            f"warning: {summary.duplicate_rows} row(s) repeat an earlier row exactly (in every "
            "column the import reads); they are loaded, summed as billed: check the export "
            "for a file or a period given twice"
        )
