"""Airflow Connections for Thanos, ClickHouse, MongoDB and S3, resolved into the one Settings.

Each service is configured either by its plain environment variable (THANOS_URL,
CLICKHOUSE_DSN, MONGO_URI, AWS_ENDPOINT_URL...; what the CLI and the API read) or,
inside Airflow, by a Connection with the id below (`AIRFLOW_CONN_<ID>` or the UI),
which wins when it exists. `task_settings()` returns `Settings.from_env()` with
those fields replaced, so the task code sees one Settings object either way.

The official provider hooks read the ClickHouse, MongoDB and S3 connections
(their URI building, TLS and credential rules included); Thanos has no provider,
so `ThanosHook` is shaped like one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook
from airflow.providers.mongo.hooks.mongo import MongoHook
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from etl.core.config import Settings
from etl.metroculus.promql import PromQLClient
from etl.worker.pipeline import promql_client

THANOS_CONN_ID = "k8scost_thanos"
CLICKHOUSE_CONN_ID = "k8scost_clickhouse"
MONGO_CONN_ID = "k8scost_mongo"
S3_CONN_ID = "k8scost_s3"


class ThanosHook(BaseHook):
    """Thanos Query (or Prometheus) as a Connection: `http(s)://host:port[/path]`.

    Extra (optional): `timeout_s`, `retries`, the PromQL client's limits.
    Example: AIRFLOW_CONN_K8SCOST_THANOS='http://thanos-query.monitoring:9090'
    """

    conn_name_attr = "thanos_conn_id"
    default_conn_name = THANOS_CONN_ID
    conn_type = "http"
    hook_name = "Thanos Query (PromQL)"

    def __init__(self, thanos_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.thanos_conn_id = thanos_conn_id
        self._client: PromQLClient | None = None

    def settings_fields(self) -> dict[str, Any]:
        """The Settings fields this connection sets."""
        conn = self.get_connection(self.thanos_conn_id)
        host = conn.host or "127.0.0.1"
        if "://" not in host:
            host = f"{'https' if conn.conn_type == 'https' else 'http'}://{host}"
        port = f":{conn.port}" if conn.port else ""
        path = f"/{conn.schema.strip('/')}" if conn.schema else ""
        fields: dict[str, Any] = {"thanos_url": f"{host}{port}{path}"}
        extra = conn.extra_dejson
        if "timeout_s" in extra:
            fields["promql_timeout_s"] = float(extra["timeout_s"])
        if "retries" in extra:
            fields["promql_retries"] = int(extra["retries"])
        return fields

    def get_conn(self) -> PromQLClient:
        """The PromQL client for this connection, built on first use."""
        if self._client is None:
            settings = Settings.from_env().with_overrides(**self.settings_fields())
            self._client = promql_client(settings)
        return self._client


def _clickhouse_fields(conn_id: str) -> dict[str, Any]:
    """`client_kwargs.dsn` in the extra (e.g. a chdb path) wins; else the server's URL."""
    hook = ClickHouseHook(clickhouse_conn_id=conn_id)
    client_kwargs = hook.get_connection(conn_id).extra_dejson.get("client_kwargs") or {}
    if client_kwargs.get("dsn"):
        return {"clickhouse_dsn": client_kwargs["dsn"]}
    parts = urlsplit(hook.get_uri())  # clickhousedb://user:pass@host:port/db?secure=true
    scheme = "https" if "secure=true" in parts.query else "http"
    return {"clickhouse_dsn": urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))}


def _mongo_fields(conn_id: str) -> dict[str, Any]:
    """The hook's URI with its client options folded in; the schema names the database."""
    hook = MongoHook(mongo_conn_id=conn_id)
    options = {
        key: str(value).lower() if isinstance(value, bool) else value
        for key, value in hook.extras.items()
    }
    if hook.allow_insecure:
        options["tlsAllowInvalidCertificates"] = "true"
    parts = urlsplit(hook.uri)
    uri = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(options), ""))
    fields: dict[str, Any] = {"mongo_uri": uri}
    if hook.connection.schema:
        fields["mongo_db"] = hook.connection.schema
    return fields


def _s3_fields(conn_id: str) -> dict[str, Any]:
    """Endpoint, region and keys of an `aws` connection (extra `endpoint_url` for MinIO...)."""
    config = S3Hook(aws_conn_id=conn_id).conn_config
    return {
        "s3_endpoint_url": config.endpoint_url,
        "s3_region": config.region_name,
        "s3_access_key_id": config.aws_access_key_id,
        "s3_secret_access_key": config.aws_secret_access_key,
    }


RESOLVERS: dict[str, Callable[[str], dict[str, Any]]] = {
    THANOS_CONN_ID: lambda conn_id: ThanosHook(conn_id).settings_fields(),
    CLICKHOUSE_CONN_ID: _clickhouse_fields,
    MONGO_CONN_ID: _mongo_fields,
    S3_CONN_ID: _s3_fields,
}


def _exists(conn_id: str) -> bool:
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def task_settings() -> Settings:
    """Settings.from_env(), with every service whose Connection exists taken from it."""
    fields: dict[str, Any] = {}
    for conn_id, resolve in RESOLVERS.items():
        if _exists(conn_id):
            fields.update(resolve(conn_id))
    return Settings.from_env().with_overrides(**fields)
