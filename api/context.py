"""Where a request finds the app's Settings, without importing the app factory."""

from __future__ import annotations

from flask import Flask, current_app

from etl.config import Settings

SETTINGS_EXTENSION = "k8scost_settings"


def attach_settings(app: Flask, settings: Settings) -> None:
    """Bind `settings` to `app`; each app (and each test) carries its own."""
    app.extensions[SETTINGS_EXTENSION] = settings


def current_settings() -> Settings:
    """The Settings of the app handling the current request."""
    return current_app.extensions[SETTINGS_EXTENSION]
