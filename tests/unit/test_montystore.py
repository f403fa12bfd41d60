"""The embedded MongoDB stand-in: processes that create one collection at once all succeed."""

from __future__ import annotations

import multiprocessing

from etl.storage import registry

PROCESSES, TRIALS = 4, 10


def _insert(uri: str, document_id: int) -> None:
    registry.open_database(uri, "k8scost").fresh.insert_one({"_id": document_id})


def test_first_writes_to_a_new_collection_from_several_processes(tmp_path):
    """montydb alone fails about half of these writes with "no such table: documents"."""
    context = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        uri = f"montydb://{tmp_path / str(trial)}"
        registry.open_database(uri, "k8scost").seed.insert_one({"_id": 0})
        writers = [context.Process(target=_insert, args=(uri, i)) for i in range(PROCESSES)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert [writer.exitcode for writer in writers] == [0] * PROCESSES
        db = registry.open_database(uri, "k8scost")
        assert sorted(doc["_id"] for doc in db.fresh.find()) == list(range(PROCESSES))
        assert sorted(db.list_collection_names()) == ["fresh", "seed"]
