"""`k8scost pricing set|sheets|show|unset`: a cluster's price sheet (docs/pricing.md).

The sheet is checked whole before anything is stored (etl/costmodel/pricesheet.py), so
a malformed file leaves the cluster's previous sheet in force. Setting a sheet prices
the days costed from then on; past days keep their prices until `k8scost reprice`.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import click

from etl.core.config import Settings
from etl.core.days import parse_stored_day
from etl.costmodel.pricesheet import (
    COLUMNS,
    PriceSheetError,
    documents,
    from_documents,
    in_force,
    parse_sheet,
)
from etl.storage import pricesheets, registry


def _text(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is refused at the line and column of
    its first bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise PriceSheetError(str(path), line, column, "not UTF-8 text") from None


@click.command("set")
@click.option("--cluster", "cluster_id", required=True, help="The cluster's account id.")
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The sheet: a CSV with the columns " + ", ".join(COLUMNS) + ".",
)
@click.pass_obj
def set_sheet_command(settings: Settings, cluster_id: str, path: Path) -> None:
    """Store the cluster's price sheet, replacing its previous one."""
    rows = parse_sheet(_text(path), str(path))
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.k8s_accounts(database, [cluster_id])  # UnknownAccountError for another id
    pricesheets.set_sheet(database, cluster_id, documents(rows), path.name)
    first = min(row.valid_from for row in rows)
    click.echo(
        f"price sheet of cluster {cluster_id}: {len(rows)} rows from {path.name}, in force "
        f"from {first}. Days costed before now keep their prices until `k8scost reprice "
        f"--from {first} --to D --tenant {cluster_id}`."
    )


@click.command("sheets")
@click.pass_obj
def sheets_command(settings: Settings) -> None:
    """List the clusters that have a price sheet."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    click.echo(f"{'cluster':<38} {'rows':>5} {'from':<10} source")
    for sheet in pricesheets.sheets(database):
        rows = from_documents(sheet["rows"])
        first = min(row.valid_from for row in rows)
        click.echo(f"{sheet['_id']:<38} {len(rows):>5} {first} {sheet['source']}")


@click.command("show")
@click.option("--cluster", "cluster_id", required=True, help="The cluster's account id.")
@click.option("--date", "day_text", help="Only the rows in force on this UTC day, YYYY-MM-DD.")
@click.pass_obj
def show_sheet_command(settings: Settings, cluster_id: str, day_text: str | None) -> None:
    """Print the cluster's sheet as a CSV `pricing set` takes back."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    rows = from_documents(pricesheets.sheet_rows(database, cluster_id))
    if not rows:
        raise click.ClickException(f"cluster {cluster_id} has no price sheet")
    if day_text is not None:
        day: date = parse_stored_day(day_text)
        rows = in_force(rows, day)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for document in documents(rows):
        writer.writerow(["" if document[c] is None else document[c] for c in COLUMNS])


@click.command("unset")
@click.option("--cluster", "cluster_id", required=True, help="The cluster's account id.")
@click.pass_obj
def unset_sheet_command(settings: Settings, cluster_id: str) -> None:
    """Remove the cluster's sheet: days costed from then on are at the exporter's prices."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    if not pricesheets.unset_sheet(database, cluster_id):
        raise click.ClickException(f"cluster {cluster_id} has no price sheet")
    click.echo(f"price sheet of cluster {cluster_id} removed")
