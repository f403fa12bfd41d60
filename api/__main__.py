"""`python -m api`: serve `create_app(Settings.from_env())` under gunicorn (api/server.py)."""

from __future__ import annotations

import argparse

from api import server
from api.app import create_app
from etl.core.config import Settings
from etl.core.serve import DEFAULT_THREADS, DEFAULT_WORKERS


def main() -> None:
    """Parse the listening options, then serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Serve the k8scost API under gunicorn.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    options = parser.parse_args()
    settings = Settings.from_env()
    server.run_here(
        lambda: create_app(settings), options.host, options.port, options.workers, options.threads
    )


if __name__ == "__main__":
    main()
