"""One settings object for every entry point (CLI, Airflow tasks, API).

Everything is read from the environment so that the same code runs on the
embedded defaults (chdb, montydb, a local directory) and on real servers
(ClickHouse over http, MongoDB, S3) by changing variables only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_THANOS_URL = "http://127.0.0.1:9090"
# Thanos Receive's remote-write endpoint and tenant header, as Thanos defaults them.
DEFAULT_THANOS_RECEIVE_URL = "http://127.0.0.1:19291/api/v1/receive"
DEFAULT_THANOS_TENANT_HEADER = "THANOS-TENANT"


@dataclass(frozen=True)
class Settings:
    """Where each backing service lives, plus the PromQL client's limits."""

    data_dir: Path
    thanos_url: str
    clickhouse_dsn: str
    mongo_uri: str
    mongo_db: str
    raw_archive_url: str
    promql_timeout_s: float = 60.0
    promql_retries: int = 3
    # Independent PromQL queries of one tenant-day in flight at once (OpenCost's
    # MAX_QUERY_CONCURRENCY): divides wall time on a Thanos with several cores.
    promql_concurrency: int = 4
    default_scrape_interval_s: int = 60
    thanos_receive_url: str = DEFAULT_THANOS_RECEIVE_URL
    thanos_tenant_header: str = DEFAULT_THANOS_TENANT_HEADER
    # The raw archive's S3 client. None = boto3's own resolution (AWS_ENDPOINT_URL,
    # AWS_ACCESS_KEY_ID..., profiles, instance roles); an Airflow Connection sets them.
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Alert webhooks (etl/alerts/notify.py): per request, tries before `failed`, first backoff.
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 5
    webhook_backoff_s: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default `os.environ`); defaults live under the data dir."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("K8SCOST_DATA_DIR", ".k8scost")).resolve()
        return cls(
            data_dir=data_dir,
            thanos_url=env.get("THANOS_URL", DEFAULT_THANOS_URL).rstrip("/"),
            clickhouse_dsn=env.get("CLICKHOUSE_DSN", f"chdb://{data_dir / 'clickhouse'}"),
            mongo_uri=env.get("MONGO_URI", f"montydb://{data_dir / 'mongo'}"),
            mongo_db=env.get("MONGO_DB", "k8scost"),
            raw_archive_url=env.get("RAW_ARCHIVE_URL", f"file://{data_dir / 'archive'}"),
            promql_timeout_s=float(env.get("PROMQL_TIMEOUT_S", "60")),
            promql_retries=int(env.get("PROMQL_RETRIES", "3")),
            promql_concurrency=max(1, int(env.get("PROMQL_CONCURRENCY", "4"))),
            default_scrape_interval_s=int(env.get("K8SCOST_SCRAPE_INTERVAL_S", "60")),
            thanos_receive_url=env.get("THANOS_RECEIVE_URL", DEFAULT_THANOS_RECEIVE_URL),
            thanos_tenant_header=env.get("THANOS_TENANT_HEADER", DEFAULT_THANOS_TENANT_HEADER),
            webhook_timeout_s=float(env.get("K8SCOST_WEBHOOK_TIMEOUT_S", "10")),
            webhook_max_attempts=int(env.get("K8SCOST_WEBHOOK_MAX_ATTEMPTS", "5")),
            webhook_backoff_s=float(env.get("K8SCOST_WEBHOOK_BACKOFF_S", "60")),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests and CLI flags use this)."""
        return replace(self, **changes)
