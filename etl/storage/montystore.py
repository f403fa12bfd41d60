"""The embedded MongoDB stand-in (montydb on SQLite), made safe for several processes.

Why: montydb stores each collection as one SQLite file and creates it on first
write by opening the file and then running CREATE TABLE. A second process that
writes in between sees the file and fails with "no such table: documents" (or
"table already exists" when both create). Airflow tasks and the API do touch new
collections at the same time, so a collection's file is built aside and then
linked into place: `os.link` is atomic and fails if another process won the race.

Second, montydb runs a filtered write (`update_one`, `find_one_and_update`, ...) as a
read, then a write by `_id`, each in its own SQLite transaction. On a MongoDB server
such a write is atomic on its document, and the code relies on it: a delivery claim
or a lease takeover is a write filtered on the state it expects. Two processes could
both read the old state here and both win, so each of these writes holds an exclusive
`flock` on a lock file of its collection, which makes them as atomic as on a server.
"""

from __future__ import annotations

import fcntl
import functools
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from montydb import MontyClient, set_storage
from montydb.collection import MontyCollection
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


# The MontyCollection methods that read a document, then write it.
FILTERED_WRITES = (
    "update_one",
    "update_many",
    "replace_one",
    "find_one_and_update",
    "delete_one",
    "delete_many",
)


@contextmanager
def _collection_lock(collection: MontyCollection) -> Iterator[None]:
    """Exclusive across threads and processes: `flock` belongs to the open file, and each
    call opens its own. The file sits beside the database folder, which montydb lists."""
    storage = collection._storage
    if not isinstance(storage, SQLiteStorage):
        yield
        return
    name = f".{collection.database.name}.{collection.name}.lock"
    descriptor = os.open(os.path.join(storage._repository, name), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(self: MontyCollection, *args: Any, **kwargs: Any) -> Any:
        with _collection_lock(self):
            return write(self, *args, **kwargs)

    return locked


for _name in FILTERED_WRITES:
    setattr(MontyCollection, _name, _atomic(getattr(MontyCollection, _name)))


def open_client(repository: Path) -> Any:
    """A MontyClient on the SQLite repository, created if missing."""
    if not (repository / "monty.storage.cfg").exists():
        repository.mkdir(parents=True, exist_ok=True)
        set_storage(str(repository), storage="sqlite")
    return MontyClient(str(repository))
