"""A warehouse with the schema, copied from a directory set up once per test process.

Why: `warehouse.init_schema` opens the embedded engine and plans every statement of
sql/schema; a test that wants empty tables pays that on each new data directory. A
copy of a closed directory where it ran is the same tables (their metadata's paths
are relative) at a small part of the cost. tests/conftest.py's `with_schema` fixture
is this function; helpers that make their own data directories call it directly.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from etl.core.config import Settings
from etl.storage import warehouse
from etl.storage.clickhouse import chdb_path, connect


@functools.cache
def _template() -> Path:
    """The embedded ClickHouse directory of the schema, built on first use, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="k8scost-schema-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    template = Settings.from_env({"K8SCOST_DATA_DIR": str(root)})
    with connect(template.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    path = chdb_path(template.clickhouse_dsn)
    assert path is not None
    return path


def with_schema(settings: Settings) -> Settings:
    """Give `settings`' embedded ClickHouse the schema: a copy of the template when its
    directory does not exist yet, else the schema files run on it (they are idempotent)."""
    target = chdb_path(settings.clickhouse_dsn)
    assert target is not None, "the schema's copy is for an embedded ClickHouse"
    if target.exists():
        with connect(settings.clickhouse_dsn) as client:
            warehouse.init_schema(client)
    else:
        shutil.copytree(_template(), target, symlinks=True)
    return settings
