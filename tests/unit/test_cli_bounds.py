"""Issue #26, findings 3 and 6 on the CLI: amounts finite and within the money bound,
days within what the stores hold, each refused with one line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from k8scost.cli import cli

ORG = ("--organization-id", "org-1")


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"K8SCOST_DATA_DIR": str(tmp_path)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("amount", ["nan", "inf", "1e308", "1000000000001"])
def test_a_budget_amount_not_finite_or_beyond_the_bound_is_refused(
    tmp_path: Path, amount: str
) -> None:
    code, output = run(tmp_path, "budgets", "add", *ORG, "--name", "b", "--amount-usd", amount)

    assert code == 2
    assert "--amount-usd" in output
    assert run(tmp_path, "budgets", "list", *ORG) == (0, "")


@pytest.mark.parametrize(
    "option", [("--min-usd", "nan"), ("--min-usd", "2e12"), ("--threshold-pct", "inf")]
)
def test_an_alert_threshold_not_finite_or_beyond_the_bound_is_refused(
    tmp_path: Path, option: tuple[str, str]
) -> None:
    code, output = run(tmp_path, "alerts", "configure", *ORG, *option)

    assert code == 2
    assert option[0] in output


def test_a_budget_threshold_is_a_finite_percent(tmp_path: Path) -> None:
    code, output = run(
        tmp_path, "budgets", "add", *ORG, "--name", "b", "--amount-usd", "1", "--threshold", "nan"
    )

    assert code == 2
    assert "--threshold" in output


def test_a_sharing_overhead_beyond_the_bound_is_an_error_line(tmp_path: Path) -> None:
    code, output = run(tmp_path, "sharing", "set", *ORG, "--shared-overhead-hourly", "1e13")

    assert code == 1
    assert output.startswith("error: shared_overhead_hourly must be a number of USD >= 0")
    assert "1e12 USD" in output


@pytest.mark.parametrize(
    "args",
    [
        ("budgets", "list", "--as-of", "1969-12-31"),
        ("alerts", "list", *ORG, "--start-date", "0001-01-01"),
        ("alerts", "evaluate", "--date", "9999-12-31"),
        ("run", "--date", "1969-12-31"),
    ],
)
def test_a_day_the_stores_cannot_hold_is_an_error_line(tmp_path: Path, args: tuple[str]) -> None:
    code, output = run(tmp_path, *args)

    assert code == 1
    assert "is out of range: the stores hold days 1970-01-01 to 2106-02-06" in output
    assert output.startswith("error: date ")
