"""The FOCUS fixture (tests/fixtures/focus) imported in every form a provider delivers it.

Expected totals are summed from the fixture's text with Decimal (tests/focus_bill.py):
per billing period, clean_expenses' total_cost is the file's BilledCost, credits,
adjustments, tax and rows without ResourceId included.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from etl.bills import MalformedBillError, account_id, import_bill, resource_id
from etl.core.config import Settings
from etl.storage import registry
from tests.focus_bill import (
    ORG,
    Api,
    billed_by_charge_month,
    billed_by_period,
    charge_span,
    copy_fixture,
    exact,
    live_expenses,
    month_bounds,
    period_query,
    rows,
    snapshot,
    write_csv,
    write_export,
    write_parquet,
)
from tests.moto_s3 import moto_server, point_boto3_at

ORACLE_COMPARTMENT = "ocid1.compartment.oc1..bbbbexample"
ORACLE_VM = "ocid1.instance.oc1.eu-frankfurt-1.ccccexample"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")})


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def s3_export(request: pytest.FixtureRequest, tmp_path: Path, bill: list[dict[str, str]]) -> str:
    """The export folder uploaded under an S3 prefix; boto3 configured by AWS_* only."""
    endpoint = request.getfixturevalue("s3_endpoint")
    monkeypatch = request.getfixturevalue("monkeypatch")
    point_boto3_at(monkeypatch, endpoint)
    client = boto3.client("s3")
    bucket = f"bills-{tmp_path.name.lower().replace('_', '-')}"[:63]
    client.create_bucket(Bucket=bucket)
    root = write_export(tmp_path / "export", bill)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"exports/{path.relative_to(root)}")
    return f"s3://{bucket}/exports/"


def source(
    form: str, request: pytest.FixtureRequest, tmp_path: Path, bill: list[dict[str, str]]
) -> str:
    if form == "csv":
        return str(write_csv(tmp_path / "bill.csv", bill))
    if form == "csv.gz":
        return str(write_csv(tmp_path / "bill.csv.gz", bill))
    if form == "parquet":
        return str(write_parquet(tmp_path / "bill.parquet", bill))
    if form == "folder":
        return str(write_export(tmp_path / "export", bill))
    return s3_export(request, tmp_path, bill)


def assert_periods_match(api: Api, bill: list[dict[str, str]]) -> None:
    """Each invoice's total under its `billing_period`, and each month's days hold what
    was charged in them (a correction billed in October for September hours included)."""
    for (start, _), billed in billed_by_period(bill).items():
        body = api.get(**charge_span(bill), billing_period=start[:7])
        assert exact(body["total_cost"]) == billed, (start, body["total_cost"])
        assert exact(sum(item["cost"] for item in body["clean_expenses"])) == billed
    for month, charged in billed_by_charge_month(bill).items():
        body = api.get(**period_query(*month_bounds(month)))
        assert exact(body["total_cost"]) == charged, (month, body["total_cost"])


@pytest.mark.parametrize("form", ["csv", "csv.gz", "parquet", "folder", "s3"])
def test_the_fixture_imports_in_every_form_to_its_billed_cost(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest, form: str
) -> None:
    bill = rows()

    summary = import_bill(settings, ORG, source(form, request, tmp_path, bill))

    assert (summary.rows, summary.accounts) == (len(bill), 6)
    assert summary.files == (2 if form in ("folder", "s3") else 1)
    assert_periods_match(Api(settings), bill)


def test_bigquery_s_text_form_of_times_imports_alike(settings: Settings, tmp_path: Path) -> None:
    """`bq extract` writes a TIMESTAMP as `2024-09-01 00:00:00 UTC` (no `T`, no `Z`):
    how Google's FOCUS table (a BigQuery table) reaches a CSV file."""
    times = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
    bill = [
        {
            **row,
            **{c: row[c].replace("T", " ").replace("Z", " UTC") for c in times if row[c] != "NULL"},
        }
        for row in rows()
    ]
    assert bill[0]["ChargePeriodStart"] == "2024-09-01 00:00:00 UTC"

    summary = import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill))

    assert summary.rows == len(bill)
    assert_periods_match(Api(settings), rows())


def test_the_accounts_keep_their_providers(settings: Settings, tmp_path: Path) -> None:
    import_bill(settings, ORG, copy_fixture(tmp_path / "bill.csv"))

    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = {
        (a["type"], a["name"], a["config"]["provider_name"]) for a in db.cloud_accounts.find()
    }
    assert accounts == {
        ("aws_cnr", "prod", "AWS"),
        ("aws_cnr", "data", "AWS"),
        ("azure_cnr", "Production", "Microsoft"),
        ("gcp_cnr", "Shop Prod", "Google Cloud"),
        ("gcp_cnr", "Example Billing", "Google Cloud"),  # its tax row has no SubAccountId
        ("focus_oracle_cnr", "prod-compartment", "Oracle"),
    }


def test_a_second_import_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    path = copy_fixture(tmp_path / "bill.csv")
    import_bill(settings, ORG, path)
    before = snapshot(settings)

    again = import_bill(settings, ORG, path)

    assert snapshot(settings) == before
    assert (again.new_accounts, again.new_resources) == (0, 0)


def test_reimporting_a_period_restates_it_exactly(settings: Settings, tmp_path: Path) -> None:
    """October again, one cost changed and the only October-4 row of Oracle's VM left out."""
    bill = rows()
    import_bill(settings, ORG, copy_fixture(tmp_path / "bill.csv"))
    october = [row for row in bill if row["BillingPeriodStart"].startswith("2024-10")]
    changed = [
        {**row, "BilledCost": "4.01"} if row["ResourceName"] == "vm-web" else row
        for row in october
        if row["ResourceId"] != ORACLE_VM
    ]
    september = [row for row in bill if row["BillingPeriodStart"].startswith("2024-09")]

    import_bill(settings, ORG, write_csv(tmp_path / "october.csv", changed))

    assert_periods_match(Api(settings), september + changed)
    oracle = account_id(ORG, "focus_oracle_cnr", ORACLE_COMPARTMENT)
    vm_days = {
        day.isoformat()
        for a, day, r in live_expenses(settings)
        if r == resource_id(oracle, ORACLE_VM)
    }
    assert vm_days == {"2024-09-04"}


def test_the_unchanged_period_stays_when_another_is_restated(
    settings: Settings, tmp_path: Path
) -> None:
    import_bill(settings, ORG, copy_fixture(tmp_path / "bill.csv"))
    before = {key: cost for key, cost in live_expenses(settings).items() if key[1].month == 9}

    october = [row for row in rows() if row["BillingPeriodStart"].startswith("2024-10")]
    import_bill(settings, ORG, write_csv(tmp_path / "october.csv", october))

    assert {k: c for k, c in live_expenses(settings).items() if k[1].month == 9} == before


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({4: {"BilledCost": "12,5"}}, ["line 6, column BilledCost", "'12,5' is not a number"]),
        ({9: {"ChargePeriodStart": "2024-13-01T00:00:00Z"}}, ["line 11, column ChargePeriodStart"]),
        ({0: {"BillingPeriodEnd": "2024-08-01T00:00:00Z"}}, ["line 2, column BillingPeriodEnd"]),
        ({19: {"BillingAccountId": "NULL"}}, ["line 21, column SubAccountId", "BillingAccountId"]),
        ({3: {"BillingCurrency": "EUR"}}, ["line 5, column BillingCurrency"]),
        ({7: {"Tags": "{team: web}"}}, ["line 9, column Tags"]),
    ],
)
def test_a_malformed_bill_is_rejected_naming_line_and_column(
    settings: Settings, tmp_path: Path, changes: dict[int, dict[str, str]], fragments: list[str]
) -> None:
    bill = [{**row, **changes.get(at, {})} for at, row in enumerate(rows())]

    with pytest.raises(MalformedBillError) as raised:
        import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill))

    message = str(raised.value)
    assert message.startswith("bill.csv: not loaded, 1 problem(s): ")
    for fragment in fragments:
        assert fragment in message
    assert snapshot(settings) == ([], [], {})


@pytest.mark.parametrize(
    ("period", "change", "where"),
    [
        # The export's first partition is CSV.gz: lines count the header as line 1.
        ("2024-09", {"ChargePeriodStart": "soon"}, "2024-09/focus-00001.csv.gz, line 4"),
        # Its second is Parquet: rows count from 1.
        ("2024-10", {"BilledCost": "NULL"}, "2024-10/focus-00001.snappy.parquet, row 3"),
    ],
)
def test_a_bad_row_in_a_folder_names_its_file_and_line(
    settings: Settings, tmp_path: Path, period: str, change: dict[str, str], where: str
) -> None:
    bill = rows()
    in_period = [at for at, row in enumerate(bill) if row["BillingPeriodStart"].startswith(period)]
    bill[in_period[2]] = {**bill[in_period[2]], **change}

    with pytest.raises(MalformedBillError) as raised:
        import_bill(settings, ORG, write_export(tmp_path / "export", bill))

    assert f"BILLING_PERIOD={where}, column {next(iter(change))}" in str(raised.value)
    assert snapshot(settings) == ([], [], {})


def test_a_csv_that_is_no_table_names_the_line(settings: Settings, tmp_path: Path) -> None:
    path = copy_fixture(tmp_path / "bill.csv")
    lines = path.read_text().splitlines()
    lines[7] = lines[7].rsplit(",", 3)[0]
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(MalformedBillError, match=r"line 8 has 35 fields, the header 38"):
        import_bill(settings, ORG, path)


def test_a_truncated_gzip_is_rejected(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bill.csv.gz"
    path.write_bytes(gzip.compress(copy_fixture(tmp_path / "bill.csv").read_bytes())[:300])

    with pytest.raises(MalformedBillError, match="not a readable"):
        import_bill(settings, ORG, path)


def test_an_unseen_provider_imports(settings: Settings, tmp_path: Path) -> None:
    bill = [
        {**row, "ProviderName": "Nebula Cloud"} if row["ProviderName"] == "Oracle" else row
        for row in rows()
    ]

    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill))

    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (nebula,) = db.cloud_accounts.find({"type": "focus_nebula_cloud_cnr"})
    assert nebula["config"] == {
        "sub_account_id": ORACLE_COMPARTMENT,
        "provider_name": "Nebula Cloud",
    }
    assert_periods_match(Api(settings), bill)


def test_null_provider_and_service_names_still_import(settings: Settings, tmp_path: Path) -> None:
    """FOCUS forbids them null, exports still do it: the cost is kept, named by the
    invoice issuer and the service category, and every period still adds up."""
    bill = [
        {**row, "ProviderName": "NULL", "ServiceName": "NULL"}
        if row["ProviderName"] == "Oracle"
        else row
        for row in rows()
    ]
    issuers = {row["InvoiceIssuerName"] for row in rows() if row["ProviderName"] == "Oracle"}

    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill))

    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    providers = {a["config"].get("provider_name") for a in db.cloud_accounts.find({})}
    assert issuers <= providers
    assert "NULL" not in {r["service_name"] for r in db.resources.find({})}
    assert_periods_match(Api(settings), bill)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_later_focus_column_sets_import_alike(
    settings: Settings, tmp_path: Path, version: str
) -> None:
    """1.1 and 1.2 only add columns (FOCUS_Spec CHANGELOG.md): the importer ignores them."""
    added = {
        "1.1": [
            "CapacityReservationId",
            "CommitmentDiscountQuantity",
            "ServiceSubcategory",
            "SkuMeter",
        ],
        "1.2": ["BillingAccountType", "InvoiceId", "PricingCurrency", "SubAccountType"],
    }
    bill = [{**row, **{column: "NULL" for column in added[version]}} for row in rows()]
    bill = (
        [{**row, "ServiceSubcategory": "Virtual Machines"} for row in bill]
        if version == "1.1"
        else bill
    )

    import_bill(settings, ORG, write_csv(tmp_path / "bill.csv", bill))

    assert_periods_match(Api(settings), bill)
