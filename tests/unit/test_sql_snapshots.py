"""What every SQL file renders to, to the letter, checked into tests/snapshots/sql/.

The templates (etl/storage/sqlfiles.py) hide what a query finally says behind macros
and includes; the snapshots show it, so that a review sees what a change of a macro
does to every query, and a query can be pasted into clickhouse-client as it runs.
`sql/<dir>/<file>` renders to `tests/snapshots/sql/<dir>/<file>.snap`: a test's
expected output, not a second source of SQL (nothing reads it but this test).
After a deliberate change, rewrite them and review their diff:
`pytest tests/unit/test_sql_snapshots.py --update-sql-snapshots`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.storage import sqlfiles

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots" / "sql"
SUFFIX = ".snap"


def rendered() -> dict[str, str]:
    """A file's path under sql/ -> what it renders to."""
    files = {f"queries/{name}.sql": sqlfiles.query(name) for name in sqlfiles.query_names()}
    files.update({f"schema/{name}": text for name, text in sqlfiles.schema_statements()})
    return files


RENDERED = rendered()


@pytest.mark.parametrize("path", sorted(RENDERED))
def test_the_file_renders_to_its_snapshot(path: str, request: pytest.FixtureRequest):
    snapshot = SNAPSHOTS / (path + SUFFIX)
    if request.config.getoption("--update-sql-snapshots"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(RENDERED[path])
    assert snapshot.exists(), f"no snapshot of sql/{path}: run with --update-sql-snapshots"
    assert RENDERED[path] == snapshot.read_text(), (
        f"sql/{path} renders to other text than {snapshot}: if the change is meant, "
        "rewrite the snapshots with --update-sql-snapshots and review their diff"
    )


def test_every_snapshot_is_of_a_file_that_exists(request: pytest.FixtureRequest):
    for snapshot in SNAPSHOTS.glob(f"*/*{SUFFIX}"):
        path = snapshot.relative_to(SNAPSHOTS).as_posix().removesuffix(SUFFIX)
        if path not in RENDERED and request.config.getoption("--update-sql-snapshots"):
            snapshot.unlink()
        else:
            assert path in RENDERED, f"{snapshot} is the snapshot of no file under sql/"
