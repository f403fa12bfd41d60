"""`k8scost` run in process over stores under a folder: a function per call that checks
the exit code and returns the output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from k8scost.cli import cli


def k8scost_in(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """`call(*args, ok=True)`: run `k8scost args` with K8SCOST_DATA_DIR=data_dir."""
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(data_dir))
    runner = CliRunner()

    def call(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return call
