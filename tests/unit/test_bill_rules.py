"""Issue #26, findings 3, 4 and 8 on the FOCUS import: only finite, bounded money; an
inverted charge period refused; exact duplicate rows warned about; a header-only file
refused as having no rows; out-of-range dates called so; lines counted as file lines.

Every expected figure and line number is worked out here from the rows the test writes.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from etl.bills import MalformedBillError, import_bill
from etl.core.config import Settings
from k8scost.cli import cli
from tests import focus_bill
from tests.focus_bill import live_expenses, snapshot

ORG = "org-rules"
ROW: dict[str, str] = {
    "ProviderName": "AWS",
    "SubAccountId": "111111111111",
    "ChargePeriodStart": "2024-03-01T00:00:00Z",
    "ChargePeriodEnd": "2024-03-01T01:00:00Z",
    "BilledCost": "1.25",
    "ResourceId": "i-0001",
    "ResourceName": "node-a",
    "ServiceName": "AmazonEC2",
    "Tags": '{"team": "shop"}',
    "BillingCurrency": "USD",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")})


def bill(tmp_path: Path, rows: list[dict[str, str]], name: str = "bill.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(ROW))
        writer.writeheader()
        writer.writerows(rows)
    return path


def hours(count: int, **changes: str) -> list[dict[str, str]]:
    """`count` rows of one resource, one per hour of 2024-03-01, with `changes`."""
    return [
        {
            **ROW,
            "ChargePeriodStart": f"2024-03-01T{hour:02d}:00:00Z",
            "ChargePeriodEnd": f"2024-03-01T{hour + 1:02d}:00:00Z",
            **changes,
        }
        for hour in range(count)
    ]


def refused(settings: Settings, path: Path) -> str:
    before = snapshot(settings)
    with pytest.raises(MalformedBillError) as raised:
        import_bill(settings, ORG, path)
    assert snapshot(settings) == before  # nothing loaded
    return str(raised.value)


def run_cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"K8SCOST_DATA_DIR": str(settings.data_dir)})


# Finding 3: only finite money.


@pytest.mark.parametrize(
    ("cost", "why"),
    [
        ("1e308", "is beyond the bound of 1e12 USD"),
        ("-2e12", "is beyond the bound of 1e12 USD"),
        ("1000000000000.01", "is beyond the bound of 1e12 USD"),
        ("inf", "is not a finite number"),
        ("-Infinity", "is not a finite number"),
        ("NaN", "is not a number"),
    ],
)
def test_a_cost_that_is_not_finite_or_beyond_the_bound_is_refused_naming_line_and_column(
    settings: Settings, tmp_path: Path, cost: str, why: str
) -> None:
    rows = hours(3)
    rows[1]["BilledCost"] = cost

    message = refused(settings, bill(tmp_path, rows))

    assert f"line 3, column BilledCost: '{cost}' {why}" in message


def test_the_bound_itself_is_accepted_and_summed_exactly(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(2, BilledCost="1000000000000")
    rows[1]["BilledCost"] = "-1000000000000"
    rows.append({**ROW, "ChargePeriodStart": "2024-03-01T05:00:00Z",
                 "ChargePeriodEnd": "2024-03-01T06:00:00Z", "BilledCost": "0.5"})  # fmt: skip

    summary = import_bill(settings, ORG, bill(tmp_path, rows))

    assert summary.cost == 0.5  # 1e12 - 1e12 + 0.5: exact in binary
    assert sum(live_expenses(settings).values()) == 0.5


def test_costs_whose_sum_would_overflow_give_an_error_line_not_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    path = bill(tmp_path, hours(2, BilledCost="1e308"))

    result = run_cli(settings, "cloud", "import", "--organization-id", ORG, str(path))

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: bill.csv: not loaded, 2 problem(s): line 2, column BilledCost" in result.output
    assert snapshot(settings) == ([], [], {})


# Finding 4: an inverted charge period, duplicate rows.


def test_an_inverted_charge_period_is_refused_naming_its_line(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(4)
    rows[2]["ChargePeriodEnd"] = "2024-02-29T23:00:00Z"

    message = refused(settings, bill(tmp_path, rows))

    assert message == (
        "bill.csv: not loaded, 1 problem(s): line 4, column ChargePeriodEnd: "
        "'2024-02-29T23:00:00Z' is before ChargePeriodStart '2024-03-01T02:00:00Z'"
    )


def test_a_charge_period_of_no_length_is_loaded(settings: Settings, tmp_path: Path) -> None:
    """FOCUS's end is exclusive; a one-time charge at an instant is not inverted."""
    rows = hours(1, ChargePeriodEnd="2024-03-01T00:00:00Z")

    assert import_bill(settings, ORG, bill(tmp_path, rows)).cost == 1.25


def test_exact_duplicate_rows_are_loaded_and_warned_about(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(3)
    rows += [dict(rows[0]), dict(rows[2]), dict(rows[2])]  # 3 repeats of 2 rows
    path = bill(tmp_path, rows)

    result = run_cli(settings, "cloud", "import", "--organization-id", ORG, str(path))

    assert result.exit_code == 0, result.output
    assert "6 row(s)" in result.output
    assert "warning: 3 row(s) repeat an earlier row exactly" in result.output
    assert sum(live_expenses(settings).values()) == pytest.approx(6 * 1.25)


def test_rows_that_differ_in_any_column_read_are_no_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(2)
    rows.append({**rows[0], "Tags": '{"team": "web"}'})
    rows.append({**rows[0], "ChargePeriodEnd": "2024-03-01T02:00:00Z"})

    assert import_bill(settings, ORG, bill(tmp_path, rows)).duplicate_rows == 0


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_a_bill_given_twice_in_one_folder_is_warned_about(
    settings: Settings, tmp_path: Path, form: str
) -> None:
    """The FOCUS fixture (typed Parquet: decimal costs, UTC times, a tags map) in two
    files of one folder: every row of the second repeats one of the first."""
    fixture = focus_bill.rows()
    write = focus_bill.write_parquet if form == "parquet" else focus_bill.write_csv
    for name in ("part-1", "part-2"):
        write(tmp_path / "export" / f"{name}.{form}", fixture)

    summary = import_bill(settings, ORG, tmp_path / "export")

    assert summary.rows == 2 * len(fixture)
    assert summary.duplicate_rows == len(fixture)


# Finding 8: messages that help.


def test_a_header_only_file_is_refused_as_having_no_rows(
    settings: Settings, tmp_path: Path
) -> None:
    path = bill(tmp_path, [])

    result = run_cli(settings, "cloud", "import", "--organization-id", ORG, str(path))

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "error: bill.csv: no rows (a header only), nothing to import"
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("ChargePeriodStart", "2300-01-01T00:00:00Z"),
        ("ChargePeriodStart", "1969-12-31T23:00:00Z"),
        ("ChargePeriodStart", "2106-02-07T00:00:00Z"),
        ("ChargePeriodEnd", "2300-01-01T00:00:00Z"),
    ],
)
def test_a_time_out_of_the_supported_range_is_called_so(
    settings: Settings, tmp_path: Path, column: str, value: str
) -> None:
    rows = hours(2)
    rows[1][column] = value

    message = refused(settings, bill(tmp_path, rows))

    assert f"line 3, column {column}: '{value}' is out of range: the stores hold days " in message
    assert "1970-01-01 to 2106-02-06" in message
    assert "ISO 8601" not in message


def test_a_time_that_is_no_time_is_still_called_so(settings: Settings, tmp_path: Path) -> None:
    rows = hours(2)
    rows[1]["ChargePeriodStart"] = "2024-02-30T00:00:00Z"

    assert "'2024-02-30T00:00:00Z' is not an ISO 8601 time" in refused(
        settings, bill(tmp_path, rows)
    )


def test_line_numbers_are_file_lines_after_a_quoted_newline(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(5)
    rows[0]["ResourceName"] = "node\nwith\nthree lines"  # record 1 spans file lines 2-4
    rows[1]["Tags"] = '{"note": "a\r\nb"}'  # record 2 spans lines 5-6
    rows[3]["BilledCost"] = "abc"  # record 4: line 2 + 2 + 1 + 1 + 1 = 8
    path = bill(tmp_path, rows)
    assert ",abc," in path.read_text().splitlines()[7]

    assert "line 8, column BilledCost: 'abc' is not a number" in refused(settings, path)


def test_a_short_record_after_a_quoted_newline_names_its_file_line(
    settings: Settings, tmp_path: Path
) -> None:
    rows = hours(3)
    rows[0]["ResourceName"] = "two\nlines"
    path = bill(tmp_path, rows)
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rsplit(",", 2)[0] + "\r\n"  # record 2 starts on line 4
    path.write_text("".join(lines))

    assert "line 4 has 8 fields, the header 10" in refused(settings, path)
