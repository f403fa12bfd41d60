"""api/server.py: how `k8scost api` serves, by store. The embedded path (a fresh
interpreter, since the caller may have used chdb/montydb) runs for real in
tests/e2e/test_api_server.py; here, that server DSNs are served from the calling
process, and that the GC tuning belongs to the serving process, not the app factory."""

from __future__ import annotations

import gc
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from api import app as api_app
from api import server
from api.server import GC_YOUNG_THRESHOLD
from etl.core.config import Settings

SERVERS = {
    "CLICKHOUSE_DSN": "http://k8scost:secret@clickhouse:8123/k8scost",
    "MONGO_URI": "mongodb://root:secret@mongodb:27017/?replicaSet=rs0",
}


@pytest.fixture
def saved_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        yield
    finally:
        gc.set_threshold(*saved)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """What reached gunicorn's runner or a spawned interpreter, instead of serving."""
    calls: list[tuple] = []

    def run(factory: Callable[[], Flask], *listen: object) -> None:
        calls.append(("here", factory(), *listen))

    def popen(command: list[str], env: dict[str, str]) -> None:
        calls.append(("spawned", command, env))
        raise SystemExit  # nothing to wait for

    monkeypatch.setattr(server.serve, "run", run)
    monkeypatch.setattr(subprocess, "Popen", popen)
    return calls


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path), **env})


def test_on_servers_the_api_is_served_from_this_process(tmp_path, served, saved_gc) -> None:
    config = settings(tmp_path, **SERVERS)
    assert not server.embeds_a_store(config)
    api_app.serve(config, "0.0.0.0", 8000, workers=4, threads=8)
    ((how, app, *listen),) = served
    assert how == "here" and isinstance(app, Flask)
    assert listen == ["0.0.0.0", 8000, 4, 8, server.SERVER_LIMITS]
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)


@pytest.mark.parametrize(
    "env",
    [{}, {"CLICKHOUSE_DSN": SERVERS["CLICKHOUSE_DSN"]}, {"MONGO_URI": SERVERS["MONGO_URI"]}],
    ids=["chdb and montydb", "montydb", "chdb"],
)
def test_an_embedded_store_is_served_from_a_fresh_interpreter(tmp_path, served, env) -> None:
    config = settings(tmp_path, **env)
    assert server.embeds_a_store(config)
    with pytest.raises(SystemExit):
        api_app.serve(config, "127.0.0.1", 8000)
    ((how, command, child_env),) = served
    assert how == "spawned" and command[1:3] == ["-m", "api"]
    assert child_env["CLICKHOUSE_DSN"] == config.clickhouse_dsn
    assert child_env["MONGO_URI"] == config.mongo_uri


def test_the_app_factory_leaves_the_gc_alone(tmp_path, saved_gc) -> None:
    api_app.create_app(settings(tmp_path))
    assert gc.get_threshold() == (700, 10, 10)


def test_serving_raises_the_young_gc_threshold_and_never_lowers_it(saved_gc) -> None:
    server.tune_gc()
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
    gc.set_threshold(GC_YOUNG_THRESHOLD * 2, 10, 10)
    server.tune_gc()
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD * 2
