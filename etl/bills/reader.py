"""Stream a FOCUS file in batches of the columns the importer reads, nulls made None.

A 1M-row export with ~60 columns is gigabytes as Python objects, so a file is
never loaded whole: CSV goes through Arrow's streaming reader and Parquet
through its row-group batches, each batch holding only the wanted columns
(`x_` and every other column are never converted). In every text column,
surrounding blanks are trimmed and an empty cell or the literal `NULL` (any
case, as the FinOps Foundation's own sample writes it) is a null: FOCUS says
absent values are NULL, and a CSV has no other way to write one.

Arrow counts CSV records, not file lines: a quoted value may hold newlines, so
record n need not start on line n + 2. `CsvLines` finds the line a record starts
on by reading the file again with Python's csv module, and only for the records a
message names, so a good bill pays nothing for it.
"""

from __future__ import annotations

import csv
import gzip
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from etl.bills.sources import MalformedBillError

BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 4 << 20  # Arrow parses a CSV this much at a time
NULL_TEXTS = pa.array(["", "null"])


@dataclass(frozen=True)
class Batch:
    """Some consecutive rows of a file: the wanted columns it has, and where they are."""

    frame: pd.DataFrame
    first_row: int  # index of the frame's first row among the file's data rows, from 0
    done_bytes: int  # how much of the file (as stored) has been read so far


def _open_text(path: Path, kind: str) -> IO[str]:
    if kind == "csv.gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def columns_of(path: Path, kind: str, name: str) -> list[str]:
    """The column names of a file (the CSV header, or the Parquet schema)."""
    try:
        if kind == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        with _open_text(path, kind) as text:
            return [column.strip() for column in next(csv.reader(text), [])]
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, pa.ArrowException) as error:
        raise MalformedBillError(f"{name}: not a readable {kind} file: {error}") from error


def _normalized(column: pa.Array) -> pa.Array:
    """Text trimmed, empty or NULL as null; integers as text; other types as they are."""
    if pa.types.is_integer(column.type):
        column = pc.cast(column, pa.string())
    if pa.types.is_decimal(column.type):
        return pc.cast(column, pa.float64())
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.is_in(pc.utf8_lower(trimmed), NULL_TEXTS), None, trimmed)


def _frame(batch: pa.RecordBatch) -> pd.DataFrame:
    columns = {name: _normalized(batch.column(name)) for name in batch.schema.names}
    return pa.table(columns).to_pandas()


def _records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """Each record of a CSV (the header first) and the file line it starts on; blank
    lines are skipped, as Arrow skips them."""
    records = csv.reader(text)
    line = 0  # the last line read so far
    for record in records:
        start, line = line + 1, records.line_num
        if record:
            yield start, record


def _bad_line(path: Path, kind: str) -> str:
    """Where a CSV stops being a table: the first record whose field count differs."""
    with _open_text(path, kind) as text:
        records = _records(text)
        width = len(next(records, (0, []))[1])
        for line, record in records:
            if len(record) != width:
                return f"line {line} has {len(record)} fields, the header {width}"
    return "Arrow could not parse it"


class CsvLines:
    """The file line each data record of a CSV starts on, read as far as asked."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._text: IO[str] | None = None
        self._records: Iterator[tuple[int, list[str]]] = iter(())
        self._starts = array("q")  # of data records 0, 1, ... read so far

    def line_of(self, record: int) -> int:
        """The line data record `record` (from 0, the header not counted) starts on."""
        if self._text is None:
            self._text = _open_text(self.path, self.kind)
            self._records = _records(self._text)
            next(self._records, None)  # the header
        while len(self._starts) <= record:
            found = next(self._records, None)
            if found is None:  # Arrow read a record csv does not: say where Arrow counts
                return record + 2
            self._starts.append(found[0])
        return self._starts[record]

    def close(self) -> None:
        if self._text is not None:
            self._text.close()


def _csv_batches(path: Path, kind: str, name: str, columns: Sequence[str]) -> Iterator[Batch]:
    raw = pa.OSFile(str(path))
    stream = pa.CompressedInputStream(raw, "gzip") if kind == "csv.gz" else raw
    first_row = 0
    try:
        reader = pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                include_columns=list(columns),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield Batch(_frame(batch), first_row, raw.tell())
            first_row += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError) as error:
        where = _bad_line(path, kind) if isinstance(error, pa.ArrowInvalid) else str(error)
        raise MalformedBillError(f"{name}: not a readable CSV file: {where}") from error
    finally:
        stream.close()


def _parquet_batches(path: Path, name: str, columns: Sequence[str]) -> Iterator[Batch]:
    size = path.stat().st_size
    try:
        parquet = pq.ParquetFile(path)
        total = max(parquet.metadata.num_rows, 1)
        first_row = 0
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=list(columns)):
            first_row += batch.num_rows
            yield Batch(_frame(batch), first_row - batch.num_rows, size * first_row // total)
    except (pa.ArrowException, OSError) as error:
        raise MalformedBillError(f"{name}: not a readable Parquet file: {error}") from error


def batches(path: Path, kind: str, name: str, columns: Sequence[str]) -> Iterator[Batch]:
    """The file's rows, `columns` only (each must be in the file), batch by batch."""
    if kind == "parquet":
        return _parquet_batches(path, name, columns)
    return _csv_batches(path, kind, name, columns)
