"""Where a request finds the app's Settings, ClickHouse pool and MongoDB (not the factory)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Flask, current_app, g

from api.query.tokenscope import TokenScope
from etl.core.config import Settings
from etl.storage.clickhouse import Client, ClientPool
from etl.storage.registry import Database, open_database

SETTINGS_EXTENSION = "k8scost_settings"
CLICKHOUSE_EXTENSION = "k8scost_clickhouse"


def attach_settings(app: Flask, settings: Settings) -> None:
    """Bind `settings`, and a ClickHouse pool for them, to `app`; each app carries its own."""
    app.extensions[SETTINGS_EXTENSION] = settings
    app.extensions[CLICKHOUSE_EXTENSION] = ClientPool(settings.clickhouse_dsn)


def current_settings() -> Settings:
    """The Settings of the app handling the current request."""
    return current_app.extensions[SETTINGS_EXTENSION]


def clickhouse(lock_wait_s: float | None = None) -> AbstractContextManager[Client]:
    """A client of the app's pool for a block: kept open between requests
    (etl/storage/clickhouse.py)."""
    return current_app.extensions[CLICKHOUSE_EXTENSION].client(lock_wait_s)


def mongodb() -> Database:
    """The MongoDB database of the app's settings (etl/storage/registry.py opens it)."""
    settings = current_settings()
    return open_database(settings.mongo_uri, settings.mongo_db)


def token_scope() -> TokenScope:
    """What the request's token may see and do (api/auth.py sets it for every data route)."""
    return g.get("token_scope", TokenScope())
