"""Connections resolved into the one Settings: AIRFLOW_CONN_* wins, the plain env var otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from k8scost_airflow.hooks import ThanosHook, task_settings

from etl.core.config import Settings


def test_without_connections_the_plain_environment_decides(monkeypatch, tmp_path):
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("THANOS_URL", "http://thanos.example:10902")
    assert task_settings() == Settings.from_env()


def test_every_connection_overrides_its_service(monkeypatch, tmp_path):
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("THANOS_URL", "http://not-this:9090")
    connections = {
        "K8SCOST_THANOS": {
            "conn_type": "https",
            "host": "thanos.example",
            "port": 443,
            "schema": "query",
            "extra": {"timeout_s": 120, "retries": 5},
        },
        "K8SCOST_CLICKHOUSE": {
            "conn_type": "clickhouse",
            "host": "ch.example",
            "port": 8443,
            "login": "k8s",
            "password": "p@ss",
            "schema": "costs",
            "extra": {"secure": True},
        },
        "K8SCOST_MONGO": {
            "conn_type": "mongo",
            "host": "mongo.example",
            "port": 27017,
            "login": "u",
            "password": "pw",
            "schema": "optscale",
            "extra": {"replicaSet": "rs0"},
        },
        "K8SCOST_S3": {
            "conn_type": "aws",
            "login": "AKIA",
            "password": "secret",
            "extra": {"endpoint_url": "http://minio.example:9000", "region_name": "eu-west-1"},
        },
    }
    for name, connection in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(connection))
    settings = task_settings()
    assert settings.thanos_url == "https://thanos.example:443/query"
    assert (settings.promql_timeout_s, settings.promql_retries) == (120.0, 5)
    assert settings.clickhouse_dsn == "https://k8s:p%40ss@ch.example:8443/costs?secure=true"
    assert settings.mongo_uri == "mongodb://u:pw@mongo.example:27017/optscale?replicaSet=rs0"
    assert settings.mongo_db == "optscale"
    assert settings.s3_endpoint_url == "http://minio.example:9000"
    assert settings.s3_region == "eu-west-1"
    assert (settings.s3_access_key_id, settings.s3_secret_access_key) == ("AKIA", "secret")
    assert settings.data_dir == tmp_path  # what no connection names stays from the env


def test_a_chdb_path_can_come_from_the_clickhouse_connection(monkeypatch, tmp_path):
    dsn = f"chdb://{tmp_path / 'ch'}"
    extra = {"client_kwargs": {"dsn": dsn}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_K8SCOST_CLICKHOUSE", json.dumps({"conn_type": "clickhouse", "extra": extra})
    )
    assert task_settings().clickhouse_dsn == dsn


def test_the_thanos_hook_is_shaped_like_a_provider_hook_and_queries(
    monkeypatch, simulated_prometheus
):
    port = simulated_prometheus.url.rsplit(":", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_K8SCOST_THANOS", f"http://127.0.0.1:{port}")
    assert ThanosHook.conn_name_attr == "thanos_conn_id"
    assert ThanosHook.default_conn_name == "k8scost_thanos"
    hook = ThanosHook()
    assert hook._client is None  # nothing is built until get_conn()
    client = hook.get_conn()
    assert client is hook.get_conn()
    (sample,) = client.instant("vector(1)", datetime.now(UTC), "any")
    assert sample.value == 1.0
