"""The embedded MongoDB stand-in (montydb on SQLite), made safe for several processes.

Why: montydb stores each collection as one SQLite file and creates it on first
write by opening the file and then running CREATE TABLE. A second process that
writes in between sees the file and fails with "no such table: documents" (or
"table already exists" when both create). Airflow tasks and the API do touch new
collections at the same time, so a collection's file is built aside and then
linked into place: `os.link` is atomic and fails if another process won the race.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from montydb import MontyClient, set_storage
from montydb.errors import DuplicateKeyError as MontyDuplicateKeyError
from montydb.storage.sqlite import SQLiteDatabase, SQLiteStorage
from pymongo.errors import DuplicateKeyError

# What an `_id` insert that lost the race raises, on a MongoDB server or on montydb.
DUPLICATE_KEY_ERRORS = (DuplicateKeyError, MontyDuplicateKeyError)


class _AtomicCollectionDatabase(SQLiteDatabase):
    """montydb's SQLite database whose collections appear complete or not at all."""

    def collection_create(self, col_name: str) -> None:
        os.makedirs(self._db_path, exist_ok=True)
        final = self._col_path(col_name)
        # Built in the repository, not the database folder, where montydb would list it.
        aside = os.path.join(
            os.path.dirname(self._db_path), f".{col_name}.{os.getpid()}-{secrets.token_hex(4)}"
        )
        self._conn.create_table(aside)
        try:
            os.link(aside, final)
        except FileExistsError:
            pass  # another process created it first; theirs is complete
        finally:
            os.unlink(aside)


# montydb picks the database class of its SQLite storage from this attribute (its
# extension point); set once, when the embedded stand-in is first used.
SQLiteStorage.contractor_cls = _AtomicCollectionDatabase


def open_client(repository: Path) -> Any:
    """A MontyClient on the SQLite repository, created if missing."""
    if not (repository / "monty.storage.cfg").exists():
        repository.mkdir(parents=True, exist_ok=True)
        set_storage(str(repository), storage="sqlite")
    return MontyClient(str(repository))
