"""`k8scost alerts ...` and `k8scost budgets ...`: anomalies, webhooks and budgets from the
command line (docs/alerts.md). The work is etl/alerts/ and etl/storage/; this prints it.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import click
import requests

from etl.alerts import budgets as budget_rules
from etl.alerts import notify, run
from etl.core.config import Settings
from etl.core.days import day_start_epoch, parse_day, parse_stored_day
from etl.storage import alerting, registry
from etl.storage import budgets as store
from etl.storage.clickhouse import connect
from k8scost.params import FiniteRange, usd


def _db(settings: Settings):
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


def _day(text: str | None, default: date) -> date:
    return parse_stored_day(text) if text else default


def _removed(removed: bool, what: str, identifier: str) -> None:
    """Say a deletion happened, or fail with one line (`error: no budget X`)."""
    if not removed:
        raise ValueError(f"no {what} {identifier}")
    click.echo(f"removed {identifier}")


def _yesterday() -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()


@click.group("alerts")
def alerts_command() -> None:
    """Cost anomalies and budget alerts, their webhooks and thresholds."""


@alerts_command.command("list")
@click.option("--organization-id", required=True)
@click.option("--start-date", help="First UTC day, YYYY-MM-DD (default: 30 days ago).")
@click.option("--end-date", help="Last UTC day, YYYY-MM-DD (default: yesterday).")
@click.option("--state", type=click.Choice([alerting.OPEN, alerting.RESOLVED]))
@click.pass_obj
def alerts_list(
    settings: Settings,
    organization_id: str,
    start_date: str | None,
    end_date: str | None,
    state: str | None,
) -> None:
    """List alerts, newest day first: id, state, change, then their causes indented."""
    last = _day(end_date, _yesterday())
    first = _day(start_date, last - timedelta(days=29))
    found = alerting.find_alerts(
        _db(settings), organization_id, day_start_epoch(first), day_start_epoch(last), state
    )
    for alert in found:
        click.echo(f"{alert['_id']}\t{alert['state']}\t{alert['change_usd']:+.2f} USD")
        for line in alert.get("summary") or []:
            click.echo(f"    {line}")


@alerts_command.command("evaluate")
@click.option("--date", "day_text", required=True, help="UTC day to evaluate, YYYY-MM-DD.")
@click.option("--tenant", "tenants", multiple=True, help="Only this tenant (repeatable).")
@click.pass_obj
def alerts_evaluate(settings: Settings, day_text: str, tenants: tuple[str, ...]) -> None:
    """Evaluate a loaded day as the k8s_cost_alerts DAG does, then send what is due."""
    result = run.evaluate(settings, parse_day(day_text), list(tenants) or None)
    click.echo(
        f"{result['date']}: {len(result['anomalies'])} anomalies, "
        f"{len(result['budget_alerts'])} budget alerts, deliveries {result['deliveries']}"
    )
    for alert_id in result["anomalies"] + result["budget_alerts"]:
        click.echo(f"  {alert_id}")


@alerts_command.command("configure")
@click.option("--organization-id", required=True)
@click.option("--threshold-pct", type=FiniteRange(min=0), help="Default 30.")
@click.option("--min-usd", type=usd(), help="Default 1.")
@click.pass_obj
def alerts_configure(
    settings: Settings, organization_id: str, threshold_pct: float | None, min_usd: float | None
) -> None:
    """Set (or show) the organization's anomaly thresholds."""
    rule = alerting.set_alert_settings(_db(settings), organization_id, threshold_pct, min_usd)
    click.echo(f"threshold_pct={rule['threshold_pct']:g} min_usd={rule['min_usd']:g}")


@alerts_command.command("add-webhook")
@click.option("--organization-id", required=True)
@click.option("--kind", type=click.Choice(alerting.TARGET_KINDS), required=True)
@click.option("--url", required=True)
@click.option("--secret", help="json: the HMAC key (default: a new random one, printed).")
@click.pass_obj
def alerts_add_webhook(
    settings: Settings, organization_id: str, kind: str, url: str, secret: str | None
) -> None:
    """Register a webhook of the organization; prints its id (and a json one's secret)."""
    target = alerting.add_target(_db(settings), organization_id, kind, url, secret)
    click.echo(target["_id"] + (f"\tsecret={target['secret']}" if target["secret"] else ""))


@alerts_command.command("webhooks")
@click.option("--organization-id")
@click.pass_obj
def alerts_webhooks(settings: Settings, organization_id: str | None) -> None:
    """List webhooks: id, organization, kind, url."""
    for target in alerting.list_targets(_db(settings), organization_id):
        click.echo(
            f"{target['_id']}\t{target['organization_id']}\t{target['kind']}\t{target['url']}"
        )


@alerts_command.command("rm-webhook")
@click.argument("target_id")
@click.pass_obj
def alerts_rm_webhook(settings: Settings, target_id: str) -> None:
    """Delete a webhook (its pending deliveries then fail)."""
    _removed(alerting.remove_target(_db(settings), target_id), "webhook", target_id)


@alerts_command.command("test-webhook")
@click.argument("target_id")
@click.pass_obj
def alerts_test_webhook(settings: Settings, target_id: str) -> None:
    """Send a test message to a webhook now (not stored, not retried)."""
    target = alerting.get_target(_db(settings), target_id)
    if target is None:
        raise ValueError(f"no webhook {target_id}")
    try:
        notify.post(
            settings,
            target,
            notify.test_message(target["organization_id"], time.time()),
            time.time(),
        )
    except requests.RequestException as error:
        raise ValueError(f"webhook {target_id} at {target['url']} failed: {error}") from None
    click.echo(f"sent a test alert to {target['url']}")


@click.group("budgets")
def budgets_command() -> None:
    """Monthly budgets of an organization, an account, a namespace or a label."""


@budgets_command.command("add")
@click.option("--organization-id", required=True)
@click.option("--name", required=True)
@click.option(
    "--scope", default="organization", show_default=True, help=budget_rules.SCOPE_DESCRIPTION
)
@click.option("--amount-usd", type=usd(min_open=True), required=True)
@click.option(
    "--threshold",
    "thresholds",
    type=FiniteRange(min=0, max=budget_rules.MAX_THRESHOLD_PCT, min_open=True),
    multiple=True,
    help="Percent (repeatable; default 50, 80, 100).",
)
@click.pass_obj
def budgets_add(
    settings: Settings,
    organization_id: str,
    name: str,
    scope: str,
    amount_usd: float,
    thresholds: tuple[float, ...],
) -> None:
    """Create a budget; prints its id."""
    budget_rules.parse_scope(scope)
    budget = store.add_budget(
        _db(settings), organization_id, name, scope, amount_usd, list(thresholds) or None
    )
    click.echo(budget["_id"])


@budgets_command.command("list")
@click.option("--organization-id")
@click.option("--as-of", help="The day the month is taken after (default: yesterday).")
@click.pass_obj
def budgets_list(settings: Settings, organization_id: str | None, as_of: str | None) -> None:
    """List budgets with month-to-date, forecast and the thresholds crossed (x) or forecast (~)."""
    db, day = _db(settings), _day(as_of, _yesterday())
    with connect(settings.clickhouse_dsn) as client:
        reader = budget_rules.SpendReader(client, db)
        for budget in store.list_budgets(db, organization_id):
            month = budget_rules.budget_month(reader, budget, day)
            marks = " ".join(
                f"{t['pct']:g}%{'x' if t['crossed'] else '~' if t['forecast'] else ''}"
                for t in month.thresholds
            )
            click.echo(
                f"{budget['_id']}\t{budget['name']}\t{budget['scope']}\t"
                f"{budget['amount_usd']:.2f}\tmtd={month.month_to_date_usd:.2f}\t"
                f"forecast={month.forecast_usd:.2f}\t{marks}"
            )


@budgets_command.command("rm")
@click.argument("budget_id")
@click.pass_obj
def budgets_rm(settings: Settings, budget_id: str) -> None:
    """Delete a budget."""
    _removed(store.delete_budget(_db(settings), budget_id), "budget", budget_id)
