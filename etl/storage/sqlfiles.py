"""Read the `.sql` files under `sql/`: the one source of truth for DDL and queries."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@cache
def query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()


def schema_statements() -> list[tuple[str, str]]:
    """(file name, statement) for every `sql/schema/NNN_*.sql`, in file-name order."""
    return [(path.name, path.read_text()) for path in sorted((SQL_DIR / "schema").glob("*.sql"))]
