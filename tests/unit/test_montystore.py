"""The embedded MongoDB stand-in: processes that create one collection at once all succeed."""

from __future__ import annotations

import multiprocessing
from typing import Any

from pymongo import ReturnDocument

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


CLAIMERS, DOCUMENTS = 4, 40


def _claim_all(uri: str, owner: str, start: Any) -> None:
    """Try to move every document from `pending` to `sending`, as a delivery claim does."""
    db = registry.open_database(uri, "k8scost")
    start.wait()
    for document_id in range(DOCUMENTS):
        claimed = db.jobs.find_one_and_update(
            {"_id": document_id, "state": "pending"},
            {"$set": {"state": "sending", "owner": owner}, "$inc": {"claims": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if claimed is not None:
            db.wins.insert_one({"_id": f"{document_id}:{owner}"})


def test_a_conditional_update_is_won_by_one_process(tmp_path):
    """A find-and-modify filtered on the expected state moves each document once, as on a
    MongoDB server: montydb alone reads and writes in two steps, and several processes
    claim the same document."""
    uri = f"montydb://{tmp_path / 'mongo'}"
    db = registry.open_database(uri, "k8scost")
    for document_id in range(DOCUMENTS):
        db.jobs.insert_one({"_id": document_id, "state": "pending", "claims": 0})
    db.wins.insert_one({"_id": "seed"})
    context = multiprocessing.get_context("fork")
    start = context.Event()
    claimers = [
        context.Process(target=_claim_all, args=(uri, f"owner-{n}", start)) for n in range(CLAIMERS)
    ]
    for claimer in claimers:
        claimer.start()
    start.set()
    for claimer in claimers:
        claimer.join()
    assert [claimer.exitcode for claimer in claimers] == [0] * CLAIMERS
    winners: dict[int, list[str]] = {}
    for win in db.wins.find({"_id": {"$ne": "seed"}}):
        document_id, owner = win["_id"].split(":")
        winners.setdefault(int(document_id), []).append(owner)
    assert {document_id: len(owners) for document_id, owners in winners.items()} == dict.fromkeys(
        range(DOCUMENTS), 1
    )
    for job in db.jobs.find():
        assert (job["state"], job["claims"], [job["owner"]]) == (
            "sending", 1, winners[job["_id"]]
        )  # fmt: skip
